// One table from JSON-schema validator keywords to OCPP error codes, by role; the spelling per
// version comes from the protocol table (1.6 "OccurenceConstraintViolation" (sic), 2.x
// "OccurrenceConstraintViolation", 1.6 "FormationViolation", 2.x "FormatViolation"). [SPEC §6]
import type { ErrorCodeSpellings } from '../ocpp/protocols.js';

export type ValidationRole = 'occurrence' | 'typeConstraint' | 'propertyConstraint' | 'formation';

const KEYWORD_ROLES: Readonly<Record<string, ValidationRole>> = {
  required: 'occurrence',
  minItems: 'occurrence',
  maxItems: 'occurrence',
  minProperties: 'occurrence',
  maxProperties: 'occurrence',
  type: 'typeConstraint',
  enum: 'propertyConstraint',
  const: 'propertyConstraint',
  maxLength: 'propertyConstraint',
  minLength: 'propertyConstraint',
  maximum: 'propertyConstraint',
  minimum: 'propertyConstraint',
  exclusiveMaximum: 'propertyConstraint',
  exclusiveMinimum: 'propertyConstraint',
  multipleOf: 'propertyConstraint',
  pattern: 'propertyConstraint',
  format: 'propertyConstraint',
  // additionalProperties and every other keyword: formation
};

export function roleOfKeyword(keyword: string): ValidationRole {
  return KEYWORD_ROLES[keyword] ?? 'formation';
}

export function codeForKeyword(keyword: string, codes: ErrorCodeSpellings): string {
  return codes[roleOfKeyword(keyword)];
}
