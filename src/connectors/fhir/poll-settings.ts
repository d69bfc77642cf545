import { Cron } from 'croner';
import { Type, type Static } from 'typebox';

/**
 * How Carelane polls an EHR that offers no subscriptions (carelane.yaml `fhir.servers.<name>.poll`,
 * docs/ehr.md "Polling"). The schema is wired into the config schema; the checks a schema cannot express
 * (one schedule, valid cron, no search parameter the poller sets itself) are in pollSettingsProblems.
 */

// datatypes.html "instant"/"dateTime": a date, or a date and time with a zone.
const FHIR_DATE_TIME = '^\\d{4}(-\\d{2}(-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2}))?)?)?$';
const RESOURCE_TYPE = '^[A-Z][A-Za-z]{1,63}$';

export const FhirPollSchema = Type.Object(
  {
    resourceTypes: Type.Array(Type.String({ pattern: RESOURCE_TYPE }), { minItems: 1, description: 'resource types searched on each poll, e.g. [SupplyRequest, ServiceRequest, Appointment]' }),
    intervalSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, description: 'poll every N seconds, the first at start-up; default 60 when cron is not set' })),
    cron: Type.Optional(Type.String({ minLength: 1, description: 'poll on this cron schedule instead of an interval (5 fields, or 6 with seconds first)' })),
    source: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'messages are recorded as source fhir:<source>; default the server name. Give the id of the same EHR under fhir.sources to share duplicate detection with its webhooks' })),
    pageSize: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: '_count asked per page (the server may send fewer)' }),
    sort: Type.Boolean({ default: true, description: 'ask for _sort=_lastUpdated; the cursor then moves after every page, else only after the last one' }),
    settleSeconds: Type.Integer({
      minimum: 0,
      maximum: 3600,
      default: 5,
      description: "the cursor never moves past the server's clock minus this: changes still being committed (or stamped in the same second) are read again next time",
    }),
    since: Type.Optional(Type.String({ pattern: FHIR_DATE_TIME, description: 'first poll only: resources changed since this date/instant (absent = all of them)' })),
    filters: Type.Optional(
      Type.Record(Type.String({ pattern: RESOURCE_TYPE }), Type.String({ minLength: 1 }), {
        description: 'extra search parameters per type, as a query string, e.g. { SupplyRequest: "status=active,suspended" }',
      }),
    ),
  },
  { additionalProperties: false },
);

export type FhirPollSettings = Static<typeof FhirPollSchema>;

/** Parameters the poller sets itself; a filter that set them would break the cursor. */
const RESERVED_PARAMETERS = ['_lastUpdated', '_sort', '_count', '_include', '_revinclude', '_summary', '_elements'];

/** Problems a schema cannot express, each naming its key (`at` is the settings' own key, e.g. fhir.servers.ehr.poll). */
export function pollSettingsProblems(at: string, settings: FhirPollSettings, serverName: string): string[] {
  const problems: string[] = [];
  if (settings.cron !== undefined && settings.intervalSeconds !== undefined) problems.push(`${at}: give intervalSeconds or cron, not both`);
  if (settings.cron !== undefined) {
    try {
      new Cron(settings.cron, { paused: true });
    } catch (error) {
      problems.push(`${at}.cron: "${settings.cron}" is not a cron pattern (${(error as Error).message})`);
    }
  }
  const seen = new Set<string>();
  settings.resourceTypes.forEach((type, index) => {
    if (seen.has(type)) problems.push(`${at}.resourceTypes.${index}: ${type} is listed twice`);
    seen.add(type);
  });
  for (const [type, query] of Object.entries(settings.filters ?? {})) {
    if (!seen.has(type)) problems.push(`${at}.filters.${type}: ${type} is not among resourceTypes`);
    const reserved = [...new URLSearchParams(query).keys()].filter((name) => RESERVED_PARAMETERS.includes(name.split(':')[0]!));
    if (reserved.length > 0) problems.push(`${at}.filters.${type}: ${reserved.join(', ')} cannot be set here (the poller sets the paging, order and cursor parameters)`);
  }
  if (settings.source === undefined && !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(serverName)) {
    problems.push(`${at}.source: the server name "${serverName}" is not a source id (a-z, 0-9, _ and -): give poll.source`);
  }
  return problems;
}
