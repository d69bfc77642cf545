import { businessError, type CarelaneError } from '../contracts/errors.ts';

/**
 * Declared system-of-record ownership (DESIGN.md principle 5): for each master-data domain, and optionally for
 * single fields of it, the one system whose writes count. A write from any other system is refused and
 * reported as an `ownership_violation` exception naming the fields and their owners, never silently applied.
 */

export type SystemOfRecord = 'odoo' | 'ehr' | 'carelane' | 'supplier';
export type MasterDataDomain = 'items' | 'vendors' | 'locations';

export interface OwnershipDeclaration {
  /** owner of each domain (carelane.yaml masterData.owners) */
  domains: Readonly<Record<MasterDataDomain, SystemOfRecord>>;
  /** field-level exceptions, `<domain>.<field>` → owner (masterData.fieldOwners), e.g. items.udi: ehr */
  fields: Readonly<Record<string, SystemOfRecord>>;
}

export interface FieldOwnership {
  field: string;
  owner: SystemOfRecord;
}

export class OwnershipRules {
  private readonly declaration: OwnershipDeclaration;

  constructor(declaration: OwnershipDeclaration) {
    this.declaration = declaration;
  }

  ownerOf(domain: MasterDataDomain, field?: string): SystemOfRecord {
    return (field !== undefined ? this.declaration.fields[`${domain}.${field}`] : undefined) ?? this.declaration.domains[domain];
  }

  /** The written fields the writer does not own, with their owners; empty when the write may be applied. */
  violations(domain: MasterDataDomain, writer: SystemOfRecord, fields: readonly string[]): FieldOwnership[] {
    return fields.map((field) => ({ field, owner: this.ownerOf(domain, field) })).filter((f) => f.owner !== writer);
  }

  /** Throws the ownership_violation business error when any written field belongs to another system. */
  assertMayWrite(domain: MasterDataDomain, writer: SystemOfRecord, fields: readonly string[], what: string): void {
    const refused = this.violations(domain, writer, fields);
    if (refused.length > 0) throw ownershipViolation(domain, writer, refused, what);
  }
}

export function ownershipViolation(domain: MasterDataDomain, writer: SystemOfRecord, refused: FieldOwnership[], what: string): CarelaneError {
  const list = refused.map((f) => `${f.field} (owned by ${f.owner})`).join(', ');
  return businessError('ownership_violation', `${writer} may not write ${domain} ${what}: ${list}`, {
    code: 'not_system_of_record',
    where: { field: `${domain}.${refused[0]!.field}` },
    detail: { domain, writer, refused, subject: what },
  });
}
