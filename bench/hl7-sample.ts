// A realistic ADT^A01 (admit) of about 1.4 KB, shaped after the admit samples in ../shared/realdata/hl7v2
// (rethinkhealth adt-a01-full, CDC trusted-intermediary ADT_A01). Every person, number and address in it is
// invented. Only MSH-10 (and the timestamps) change from one message to the next, so no message is a duplicate.

const SEGMENTS = [
  'MSH|^~\\&|ADT_APP|NORTH_CLINIC|CARELANE|SUPPLY_HUB|{ts}||ADT^A01^ADT_A01|{id}|P|2.5.1|||AL|NE|||||',
  'EVN|A01|{ts}|||REGCLERK^TEST^R|{ts}',
  'PID|1||BX{n}^^^NORTH_CLINIC^MR~BX{n}9^^^NORTH_CLINIC^AN||TESTPATIENT^ALPHA^Q^^^^L||19800101|F||2106-3^White^CDCREC|100 SAMPLE ROAD^APT 1^TESTVILLE^ZZ^00000^USA^H||555-0100^PRN^PH^^^555^0100|555-0101^WPN^PH|ENG^English^HL70296|S^Single^HL70002|NON^None^HL70006|VIS{n}^^^NORTH_CLINIC^VN|||N^Not Hispanic or Latino^HL70189',
  'PD1||||1000000001^PRIMARY^PAT^A^^^MD^^NPI',
  'NK1|1|TESTCONTACT^BETA^R|SIB^Sibling^HL70063|200 EXAMPLE STREET^^TESTVILLE^ZZ^00000^USA|555-0102^PRN^PH||EC^Emergency Contact^HL70131',
  'PV1|1|I|4W^412^B^NORTH_CLINIC^^^^N4|E^Emergency^HL70007|||1000000002^ATTENDING^ANNA^B^^^MD^^NPI|1000000003^REFERRING^RAY^C^^^MD^^NPI|1000000004^CONSULT^CARL^D^^^MD^^NPI|MED^Medicine^HL70069||||7^Emergency Room^HL70023|||1000000002^ATTENDING^ANNA^B^^^MD^^NPI|IP^Inpatient^HL70004|VIS{n}^^^NORTH_CLINIC^VN|SP^Self Pay^HL70064||||||||||||||||||NORTH_CLINIC|||||{ts}',
  'PV2|||R07.9^Chest pain, unspecified^I10||||||||||||||||||||||N',
  'OBX|1|NM|8302-2^Body height^LN||168|cm^centimeter^UCUM|||||F|||{ts}',
  'OBX|2|NM|29463-7^Body weight^LN||71.5|kg^kilogram^UCUM|||||F|||{ts}',
  'AL1|1|DA|70618^Penicillin^RXNORM|MO^Moderate^HL70128|Hives',
  'DG1|1||R07.9^Chest pain, unspecified^I10||{ts}|A^Admitting^HL70052',
  'PR1|1||0JH60DZ^Insertion of pacemaker into chest subcutaneous tissue^ICD10PCS||{ts}|',
  'IN1|1|PLAN001^Test Health Plan|INS100^^^^NIIP|TEST HEALTH INSURANCE^^^^XX|PO BOX 0000^^TESTVILLE^ZZ^00000||555-0199^WPN^PH|GRP000123|TEST EMPLOYER GROUP|||20250101|20261231|||TESTPATIENT^ALPHA^Q|SEL^Self^HL70063|19800101|100 SAMPLE ROAD^APT 1^TESTVILLE^ZZ^00000^USA|||||||||||||||||MEM{n}',
];

/** The n-th message: its MSH-10 is `BENCH-<n>`. Segments end with CR, as HL7 v2 requires. */
export function adtA01(n: number, when = new Date()): string {
  const ts = when.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const id = `BENCH-${n}`;
  const digits = String(n).padStart(7, '0');
  return SEGMENTS.map((s) => s.replaceAll('{ts}', ts).replaceAll('{id}', id).replaceAll('{n}', digits)).join('\r') + '\r';
}
