// Master data and crosswalks (issue 6): the door of this folder.
export { itemKey, mappingFailure, unmappedVendorItem, type KitLine, type MappedItem, type MappedLocation, type MasterDataLookup, type SupplierItem, type UnmappedKind, type UnmappedValue } from './lookup.ts';
export { PgMasterDataLookup, unmappedKey } from './crosswalks.ts';
export { CROSSWALK_KINDS, KIND_SPECS, isCrosswalkKind, type CrosswalkKind, type ItemMapping, type LocationMapping, type MappingByKind, type PreferenceCard, type PreferenceCardLine, type SupplierItemMapping, type Versioned } from './kinds.ts';
export { getMapping, listMappings, mappingHistory, removeMapping, saveMappings, type Change, type SavedMapping } from './store.ts';
export { applyMappings, importCsv, type AppliedMappings } from './mappings.ts';
export { CsvImportError, csvColumns, mappingsFromCsv, parseCsv, type CsvProblem } from './csv.ts';
export { AUTO_REPLAY_ACTOR, replayMappingFailures, type AutoReplayOutcome } from './auto-replay.ts';
export { mappingFailureSummary, type MappingFailureGroup } from './failures.ts';
export {
  DEFAULT_SYNC_SETTINGS,
  MASTER_DATA_SYNC_ACTION,
  SYNC_ACTOR,
  listSyncRuns,
  masterDataSyncHandler,
  requestSync,
  runSyncNow,
  syncPlanFrom,
  type MasterDataDomain,
  type MissingReference,
  type SyncRun,
  type SyncSettings,
} from './sync.ts';
