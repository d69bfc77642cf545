-- Patient tokens (DESIGN.md principle 4): identifiers become keyed HMAC tokens at the boundary. The clear
-- identifier is never stored; for audited re-identification it is kept encrypted (AES-256-GCM) under a key
-- derived from the same managed secret that made the token, so a token outlives the rotation of the active key.
create table carelane.patient_tokens (
  token                 text primary key,            -- 'ptk_<key id>_<base64url HMAC-SHA256>'
  key_id                text not null,               -- the managed key that made it; needed to decrypt
  identifier_ciphertext bytea not null,              -- 12-byte IV || 16-byte GCM tag || ciphertext; AAD = token
  created_at            timestamptz not null default now(),
  last_seen_at          timestamptz not null default now()
);
create index patient_tokens_key on carelane.patient_tokens (key_id);
