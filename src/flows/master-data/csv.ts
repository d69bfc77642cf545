import { isValidGtin } from '../../connectors/gs1/index.ts';
import { KIND_SPECS, type Column, type CrosswalkKind, type MappingByKind, type PreferenceCardLine } from './kinds.ts';

// CSV files of crosswalks: RFC 4180 (fields separated by commas, records by CRLF or LF, a field in double
// quotes may hold commas, line breaks and "" for a quote), with a header row naming the columns in any
// order. A file is checked whole before anything is saved: every problem is reported with its line (the
// physical line the record starts on, 1 = the header) and column name, and one problem rejects the file.

export interface CsvProblem {
  line: number;
  /** the column's header name; absent for a problem with the record as a whole */
  column?: string;
  message: string;
}

export class CsvImportError extends Error {
  readonly problems: CsvProblem[];
  constructor(problems: CsvProblem[]) {
    const first = problems[0]!;
    super(`${problems.length} problem${problems.length === 1 ? '' : 's'} in the file; first: line ${first.line}${first.column ? `, column ${first.column}` : ''}: ${first.message}`);
    this.name = 'CsvImportError';
    this.problems = problems;
  }
}

export interface CsvRecord {
  /** physical line the record starts on */
  line: number;
  fields: string[];
}

const MAX_PROBLEMS = 100;

/** RFC 4180 records; a malformed quote is a problem at its line. A UTF-8 BOM is ignored; blank lines are skipped. */
export function parseCsv(text: string): { records: CsvRecord[]; problems: CsvProblem[] } {
  const records: CsvRecord[] = [];
  const problems: CsvProblem[] = [];
  const input = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let line = 1;
  let i = 0;
  while (i < input.length) {
    const startLine = line;
    const fields: string[] = [];
    let field = '';
    let atRecordEnd = false;
    let broken = false;
    while (!atRecordEnd) {
      if (input[i] === '"') {
        // quoted field: runs to the closing quote; "" is a literal quote
        i++;
        for (;;) {
          if (i >= input.length) {
            problems.push({ line: startLine, message: 'a quoted field is not closed before the end of the file' });
            broken = true;
            break;
          }
          const ch = input[i]!;
          if (ch === '"') {
            if (input[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          field += ch;
          i++;
        }
        if (!broken && i < input.length && input[i] !== ',' && input[i] !== '\n' && input[i] !== '\r') {
          problems.push({ line, message: `unexpected ${JSON.stringify(input[i])} after a closing quote (a quote inside a field must be doubled)` });
          broken = true;
          while (i < input.length && input[i] !== '\n') i++;
        }
      } else {
        while (i < input.length && input[i] !== ',' && input[i] !== '\n' && input[i] !== '\r') {
          if (input[i] === '"' && !broken) {
            problems.push({ line, message: 'a quote inside an unquoted field (quote the whole field and double the quote)' });
            broken = true;
          }
          field += input[i];
          i++;
        }
      }
      fields.push(field);
      field = '';
      if (i >= input.length) atRecordEnd = true;
      else if (input[i] === ',') i++;
      else {
        // CRLF or LF (a lone CR too, as some spreadsheet exports write)
        if (input[i] === '\r' && input[i + 1] === '\n') i++;
        i++;
        line++;
        atRecordEnd = true;
      }
    }
    const blank = fields.length === 1 && fields[0] === '';
    if (!broken && !blank) records.push({ line: startLine, fields });
    if (problems.length >= MAX_PROBLEMS) break;
  }
  return { records, problems };
}

/** Turns the rows of a crosswalk file into mappings, or throws CsvImportError with every problem found. */
export function mappingsFromCsv<K extends CrosswalkKind>(kind: K, text: string): Array<MappingByKind[K]> {
  const { records, problems } = parseCsv(text);
  if (records.length === 0 && problems.length === 0) throw new CsvImportError([{ line: 1, message: 'the file is empty: a header row naming the columns is required' }]);
  const header = records[0];
  if (!header || header.line !== 1) throw new CsvImportError(problems.length > 0 ? problems : [{ line: 1, message: 'the first line must be the header row' }]);
  const columns = csvColumns(kind);
  const names = header.fields.map((name) => name.trim());
  const index = new Map<string, number>();
  names.forEach((name, position) => {
    if (!columns.some((column) => column.column === name)) problems.push({ line: 1, column: name, message: `unknown column (expected: ${columns.map((c) => c.column).join(', ')})` });
    else if (index.has(name)) problems.push({ line: 1, column: name, message: 'column named twice' });
    else index.set(name, position);
  });
  for (const column of columns) if (column.required && !index.has(column.column)) problems.push({ line: 1, column: column.column, message: 'required column missing from the header' });
  if (problems.length > 0) throw new CsvImportError(problems);

  const rows: Array<{ line: number; values: Record<string, string | number | null> }> = [];
  for (const record of records.slice(1)) {
    if (record.fields.length !== names.length) {
      problems.push({ line: record.line, message: `${record.fields.length} fields where the header has ${names.length}` });
      continue;
    }
    const values: Record<string, string | number | null> = {};
    for (const column of columns) {
      const position = index.get(column.column);
      const raw = position === undefined ? '' : record.fields[position]!.trim();
      const value = convert(column, raw);
      if (typeof value === 'object' && value !== null) {
        problems.push({ line: record.line, column: column.column, message: value.problem });
        continue;
      }
      values[column.field] = value;
    }
    rows.push({ line: record.line, values });
    if (problems.length >= MAX_PROBLEMS) break;
  }
  const mappings = kind === 'preference-cards' ? preferenceCards(rows, problems) : singleRowMappings(kind, rows, problems);
  if (problems.length > 0) throw new CsvImportError(problems.slice(0, MAX_PROBLEMS));
  return mappings as Array<MappingByKind[K]>;
}

/** The CSV columns of a kind: its table's columns, except preference cards, which have one row per card line. */
export function csvColumns(kind: CrosswalkKind): Column[] {
  if (kind !== 'preference-cards') return KIND_SPECS[kind].columns;
  return [
    ...KIND_SPECS[kind].columns.filter((column) => column.field !== 'lines'),
    { field: 'itemSystem', column: 'item_system', type: 'text' },
    { field: 'itemCode', column: 'item_code', type: 'text', required: true },
    { field: 'quantity', column: 'quantity', type: 'integer', required: true },
  ];
}

function convert(column: Column, raw: string): string | number | null | { problem: string } {
  if (raw === '') return column.required ? { problem: 'required value is empty' } : column.key ? '' : null;
  if (column.type === 'integer') {
    if (column.field === 'quantity') {
      const quantity = Number(raw);
      return Number.isFinite(quantity) && quantity > 0 && /^\d+(\.\d+)?$/.test(raw) ? quantity : { problem: `"${raw}" is not a positive quantity` };
    }
    return /^[1-9]\d{0,9}$/.test(raw) && Number(raw) <= 2_147_483_647 ? Number(raw) : { problem: `"${raw}" is not a record id (a positive whole number)` };
  }
  if (column.field === 'gtin' && !isValidGtin(raw)) return { problem: `"${raw}" is not a valid GTIN (8, 12, 13 or 14 digits with a correct check digit)` };
  return raw;
}

function singleRowMappings(kind: CrosswalkKind, rows: Array<{ line: number; values: Record<string, unknown> }>, problems: CsvProblem[]): unknown[] {
  const spec = KIND_SPECS[kind];
  const keys = spec.columns.filter((column) => column.key);
  const seen = new Map<string, number>();
  const mappings: unknown[] = [];
  for (const { line, values } of rows) {
    const key = JSON.stringify(keys.map((column) => values[column.field]));
    const first = seen.get(key);
    if (first !== undefined) problems.push({ line, column: keys.at(-1)!.column, message: `the same ${keys.map((c) => c.column).join(' + ')} as line ${first}` });
    seen.set(key, first ?? line);
    if (kind === 'items' && values.odooProductId === null && values.defaultCode === null && values.gtin === null) {
      problems.push({ line, column: 'odoo_product_id', message: 'name the product: odoo_product_id, default_code or gtin' });
    }
    mappings.push(values);
  }
  return mappings;
}

/** Rows of a preference-card file grouped into cards: a card's lines are every row with its site and procedure. */
function preferenceCards(rows: Array<{ line: number; values: Record<string, unknown> }>, problems: CsvProblem[]): unknown[] {
  const cards = new Map<string, { site: string; procedureSystem: string; procedureCode: string; lines: PreferenceCardLine[]; lineOf: Map<string, number> }>();
  for (const { line, values } of rows) {
    const key = JSON.stringify([values.site, values.procedureSystem, values.procedureCode]);
    let card = cards.get(key);
    if (!card) {
      card = { site: String(values.site), procedureSystem: String(values.procedureSystem ?? ''), procedureCode: String(values.procedureCode), lines: [], lineOf: new Map() };
      cards.set(key, card);
    }
    const item = JSON.stringify([values.itemSystem ?? '', values.itemCode]);
    const earlier = card.lineOf.get(item);
    if (earlier !== undefined) problems.push({ line, column: 'item_code', message: `this item is already on the card at line ${earlier}` });
    card.lineOf.set(item, earlier ?? line);
    card.lines.push({ system: String(values.itemSystem ?? ''), code: String(values.itemCode), quantity: Number(values.quantity) });
  }
  return [...cards.values()].map(({ lineOf: _lineOf, ...card }) => card);
}
