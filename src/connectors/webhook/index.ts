export { webhookPostHandler } from './handler.ts';
export { postWebhook, type WebhookRequest, type WebhookResponse } from './client.ts';
export { classifyHttpStatus, classifyNetworkError } from './errors.ts';
