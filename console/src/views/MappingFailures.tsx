import { Fragment, useState, type FormEvent } from 'react';
import { api } from '../api.ts';
import { ago } from '../format.ts';
import { useApi } from '../hooks.ts';

interface Unmapped {
  value: { kind: string; system: string; code: string; site?: string };
  openExceptions: number;
  oldestAt: string;
  newestAt: string;
  exampleMessageIds: number[];
}

interface FieldSpec {
  name: string;
  label: string;
  type: 'text' | 'number';
  required?: boolean;
  help?: string;
}

// What each unmapped kind needs to become a crosswalk entry (docs/master-data.md); the unmapped value itself
// fills the key fields. An item mapping replays its parked messages once it names the Odoo product.
const FORMS: Record<string, { crosswalk: string; fields: FieldSpec[]; keys: (v: Unmapped['value']) => Record<string, unknown> }> = {
  item: {
    crosswalk: 'items',
    keys: (v) => ({ ehrSystem: v.system, ehrCode: v.code }),
    fields: [
      { name: 'odooProductId', label: 'Odoo product id', type: 'number', required: true, help: 'product.product id' },
      { name: 'defaultCode', label: 'Internal reference', type: 'text' },
      { name: 'gtin', label: 'GTIN', type: 'text' },
    ],
  },
  location: {
    crosswalk: 'locations',
    keys: (v) => ({ ehrSystem: v.system, ehrCode: v.code }),
    fields: [
      { name: 'site', label: 'Site', type: 'text', required: true },
      { name: 'odooConnection', label: 'Odoo connection', type: 'text', required: true },
      { name: 'storeroomLocationId', label: 'Storeroom location id', type: 'number', required: true },
      { name: 'destinationLocationId', label: 'Destination location id', type: 'number', required: true },
      { name: 'pickingTypeId', label: 'Internal transfer type id', type: 'number', required: true },
      { name: 'analyticAccountId', label: 'Cost center (analytic account) id', type: 'number' },
    ],
  },
  vendor_item: {
    crosswalk: 'supplier-items',
    keys: (v) => ({ vendorRef: v.system, odooProductId: Number(v.code) }),
    fields: [
      { name: 'sku', label: "Vendor's item code (SKU)", type: 'text', required: true },
      { name: 'gtin', label: 'GTIN', type: 'text' },
    ],
  },
  procedure: {
    crosswalk: 'preference-cards',
    keys: (v) => ({ site: v.site ?? '', procedureSystem: v.system, procedureCode: v.code }),
    fields: [
      { name: 'lineSystem', label: 'Item code system', type: 'text' },
      { name: 'lineCode', label: 'Item code', type: 'text', required: true },
      { name: 'lineQuantity', label: 'Quantity', type: 'number', required: true },
    ],
  },
};

/** The mapping-failure queue grouped by unmapped value, with an inline "add mapping" that replays what waits for it. */
export function MappingFailures(props: { can: (permission: string) => boolean }) {
  const { data, error, reload } = useApi<{ unmapped: Unmapped[] }>('/api/v1/mapping-failures', 15_000);
  const [open, setOpen] = useState<string | null>(null);
  const [done, setDone] = useState<string>();
  const rows = data?.unmapped ?? [];
  return (
    <section aria-labelledby="mappings-title">
      <h1 id="mappings-title">Mapping failures</h1>
      <p className="muted">Messages parked because a code has no mapping, grouped by the code. Adding the mapping replays every message waiting for it.</p>
      {done && (
        <p role="status" className="ok">
          {done}
        </p>
      )}
      {error && <p role="alert" className="error">{error}</p>}
      {!data && !error && <p className="loading">Loading…</p>}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col">Code system</th>
              <th scope="col">Unmapped code</th>
              <th scope="col">Site</th>
              <th scope="col" className="num">Waiting</th>
              <th scope="col">Oldest</th>
              <th scope="col">Examples</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {data && rows.length === 0 && (
              <tr>
                <td colSpan={8} className="muted">
                  No message waits for a mapping.
                </td>
              </tr>
            )}
            {rows.map((row) => {
              const key = `${row.value.kind}|${row.value.system}|${row.value.code}|${row.value.site ?? ''}`;
              const form = FORMS[row.value.kind];
              return (
                <Fragment key={key}>
                  <tr>
                    <td>{row.value.kind.replace('_', ' ')}</td>
                    <td className="mono">{row.value.system || '(none)'}</td>
                    <td className="mono">
                      <strong>{row.value.code}</strong>
                    </td>
                    <td>{row.value.site ?? '—'}</td>
                    <td className="num">{row.openExceptions}</td>
                    <td>{ago(row.oldestAt)}</td>
                    <td>
                      {row.exampleMessageIds.slice(0, 3).map((id) => (
                        <a key={id} href={`#/messages/${id}`} className="example">
                          #{id}
                        </a>
                      ))}
                    </td>
                    <td>
                      {props.can('mappings:write') && form ? (
                        <button type="button" className="small-button" aria-expanded={open === key} onClick={() => setOpen(open === key ? null : key)} aria-label={`Add mapping for ${row.value.kind} ${row.value.code}`}>
                          Add mapping
                        </button>
                      ) : (
                        <span className="muted small">{form ? 'needs mappings:write' : '—'}</span>
                      )}
                    </td>
                  </tr>
                  {open === key && form && (
                    <tr className="inline-form">
                      <td colSpan={8}>
                        <AddMapping
                          row={row}
                          onSaved={(message) => {
                            setOpen(null);
                            setDone(message);
                            reload();
                          }}
                        />
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function AddMapping(props: { row: Unmapped; onSaved: (message: string) => void }) {
  const form = FORMS[props.row.value.kind]!;
  const [values, setValues] = useState<Record<string, string>>({ ...(props.row.value.kind === 'location' && props.row.value.site ? { site: props.row.value.site } : {}) });
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const id = (name: string) => `map-${props.row.value.kind}-${props.row.value.code}-${name}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    const body: Record<string, unknown> = { ...form.keys(props.row.value) };
    if (props.row.value.kind === 'procedure') {
      body.lines = [{ system: values.lineSystem ?? '', code: values.lineCode, quantity: Number(values.lineQuantity) }];
    } else {
      for (const field of form.fields) {
        const value = values[field.name]?.trim();
        if (value) body[field.name] = field.type === 'number' ? Number(value) : value;
      }
    }
    try {
      const saved = await api<{ change: string; autoReplay: { replayed: number[]; waiting: number[] } }>(`/api/v1/crosswalks/${form.crosswalk}`, { method: 'POST', body });
      props.onSaved(`Mapping for ${props.row.value.code} ${saved.change}; ${saved.autoReplay.replayed.length} parked message(s) replayed${saved.autoReplay.waiting.length ? `, ${saved.autoReplay.waiting.length} still wait for another mapping` : ''}.`);
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="mapping-form" onSubmit={submit} aria-label={`Add mapping for ${props.row.value.code}`}>
      {form.fields.map((field) => (
        <div className="field" key={field.name}>
          <label htmlFor={id(field.name)}>
            {field.label}
            {field.required ? ' *' : ''}
          </label>
          <input
            id={id(field.name)}
            type={field.type === 'number' ? 'number' : 'text'}
            min={field.type === 'number' ? 1 : undefined}
            required={field.required}
            value={values[field.name] ?? ''}
            onChange={(e) => setValues({ ...values, [field.name]: e.target.value })}
            aria-describedby={field.help ? `${id(field.name)}-help` : undefined}
          />
          {field.help && (
            <span id={`${id(field.name)}-help`} className="muted small">
              {field.help}
            </span>
          )}
        </div>
      ))}
      <button type="submit" disabled={busy}>
        {busy ? 'Saving…' : 'Save mapping and replay'}
      </button>
      {error && <p role="alert" className="error">{error}</p>}
    </form>
  );
}
