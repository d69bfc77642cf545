export { loadConfig, parseConfigText, resolveConfigPath, ConfigError, type LoadedConfig, type ConfigEnvironment } from './load.ts';
export type { CarelaneConfig, LaneConfig, RetryConfig, CircuitConfig, EndpointConfig, RouteConfig } from './schema.ts';
