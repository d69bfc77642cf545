export { loadConfig, parseConfigText, redactedConfig, resolveConfigPath, ConfigError, type LoadedConfig, type ConfigEnvironment } from './load.ts';
export type { CarelaneConfig, LaneConfig, RetryConfig, CircuitConfig, EndpointConfig, RouteConfig, OidcConfig, TokenizationKeyConfig, RetentionConfig } from './schema.ts';
