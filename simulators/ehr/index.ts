// The EHR simulator's door: a FHIR R4 server with REST-hook subscriptions and an HL7 v2 sender over MLLP, on
// an invented scenario, for demos and tests (issue 4).
export { startEhrSimulator, type EhrSimulator, type EhrSimulatorOptions, type EhrFault, type BookingRequest } from './server.ts';
export { defaultScenario, patientIdentifiers, SIMULATED_MRN_SYSTEM, type EhrScenario } from './scenario.ts';
export { siuMessage, ormMessage, dftMessage, hl7Timestamp, type ScheduleTrigger, type Hl7Exchange, type Charge } from './hl7-sender.ts';
export { TOPIC, type SubscriptionSettings, type SentNotification, type PayloadContent } from './subscriptions.ts';
export { SERVED_TYPES } from './fhir-api.ts';
export { startHl7Receiver, type Hl7Receiver, type Hl7ReceiverFault, type ReceivedHl7 } from './hl7-receiver.ts';
