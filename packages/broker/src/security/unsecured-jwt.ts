// Unsecured JWTs (RFC 7519 with `alg: none`, RFC 7515's compact serialization with an empty
// signature), validated as Kafka's OAuthBearerUnsecuredValidatorCallbackHandler and
// OAuthBearerUnsecuredJws do (KIP-255): for development and tests, since anyone can mint one.
//   header.claims.            base64url JSON, base64url JSON, and nothing after the last dot
//   alg                       must be "none"
//   <principal claim>         a non-blank string; `sub` unless unsecuredValidatorPrincipalClaimName
//   exp                       required, a number of seconds (may be fractional); now minus the
//                             allowed clock skew must be before it
//   iat                       optional, a number; not after now plus the allowed clock skew, and
//                             before exp
//   <scope claim>             `scope` unless unsecuredValidatorScopeClaimName: a string (one scope)
//                             or a list of strings; must hold every unsecuredValidatorRequiredScope
// The time is passed in; this module reads no clock.

import type { JaasEntry } from './jaas-config.js';

export const oauthBearerLoginModule = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule';

export interface UnsecuredJwtValidatorOptions {
  readonly principalClaimName: string;
  readonly scopeClaimName: string;
  /** Every one must be in the token's scope (empty: no requirement). */
  readonly requiredScope: readonly string[];
  readonly allowableClockSkewMs: number;
}

export const defaultUnsecuredJwtValidatorOptions: UnsecuredJwtValidatorOptions = {
  principalClaimName: 'sub',
  scopeClaimName: 'scope',
  requiredScope: [],
  allowableClockSkewMs: 0,
};

/** The validator's options from the OAuthBearerLoginModule entry (`unsecuredValidator*`); throws on bad ones. */
export function unsecuredJwtValidatorOptions(entry: JaasEntry): UnsecuredJwtValidatorOptions {
  if (entry.loginModule !== oauthBearerLoginModule) {
    throw new Error(`OAUTHBEARER needs ${oauthBearerLoginModule}, got ${entry.loginModule}`);
  }
  const option = (name: string) => {
    const value = entry.options.get(`unsecuredValidator${name}`)?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const skewText = option('AllowableClockSkewMs');
  let allowableClockSkewMs = 0;
  if (skewText !== undefined) {
    if (!/^\d+$/.test(skewText) || Number(skewText) > 0x7fffffff) {
      throw new Error(`unsecuredValidatorAllowableClockSkewMs must be a non-negative int, got '${skewText}'`);
    }
    allowableClockSkewMs = Number(skewText);
  }
  return {
    principalClaimName: option('PrincipalClaimName') ?? 'sub',
    scopeClaimName: option('ScopeClaimName') ?? 'scope',
    // Kafka's OAuthBearerScopeUtils: space-delimited.
    requiredScope: option('RequiredScope')?.split(/ +/) ?? [],
    allowableClockSkewMs,
  };
}

export type UnsecuredJwtValidation =
  | {
      readonly valid: true;
      readonly principalName: string;
      /** `exp` in milliseconds: the token's end, which bounds the SASL session. */
      readonly expiresAtMs: number;
      readonly scope: readonly string[];
    }
  | {
      readonly valid: false;
      /** RFC 7628's error status: `insufficient_scope` for a missing scope, else `invalid_token`. */
      readonly status: 'invalid_token' | 'insufficient_scope';
      /** The required scope, for `insufficient_scope` (Kafka sends the list as Java prints it). */
      readonly scope?: string;
      /** Why, for the broker's log only. */
      readonly reason: string;
    };

/** Upper bound on a token's length: the SASL frame limit already applies, this keeps JSON parsing small. */
export const unsecuredJwtBytesMax = 64 * 1024;

const invalid = (reason: string): UnsecuredJwtValidation => ({
  valid: false,
  status: 'invalid_token',
  reason,
});

function decodeJsonObject(part: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_\-+/]*={0,2}$/.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function scopeOf(claim: unknown): readonly string[] | undefined {
  if (claim === undefined || claim === null) return [];
  if (typeof claim === 'string') return claim.trim() === '' ? [] : [claim.trim()];
  if (Array.isArray(claim)) {
    return claim.map((element) => String(element).trim()).filter((element) => element !== '');
  }
  return undefined;
}

export function validateUnsecuredJwt(
  token: string,
  options: UnsecuredJwtValidatorOptions,
  nowMs: number,
): UnsecuredJwtValidation {
  if (token.length > unsecuredJwtBytesMax) return invalid(`token longer than ${unsecuredJwtBytesMax} bytes`);
  if (token.includes('..')) return invalid("Malformed compact serialization contains '..'");
  const parts = token.split('.');
  if (parts.length !== 3) {
    return invalid('Unsecured JWS compact serializations must have 3 dot-separated Base64URL-encoded values');
  }
  const [headerPart, claimsPart, signature] = parts as [string, string, string];
  const header = decodeJsonObject(headerPart);
  const claims = decodeJsonObject(claimsPart);
  if (header === undefined || claims === undefined)
    return invalid('malformed Base64 URL encoded value or JSON');
  if (header.alg !== 'none') return invalid("Unsecured JWS must have 'none' for an algorithm");
  if (signature !== '') return invalid('Unsecured JWS must not contain a digital signature');

  const scope = scopeOf(claims[options.scopeClaimName]);
  if (scope === undefined)
    return invalid(`The '${options.scopeClaimName}' claim is neither a string nor a list`);
  const exp = claims.exp;
  if (exp === undefined || exp === null) return invalid('No expiration time in JWT');
  if (typeof exp !== 'number' || !Number.isFinite(exp))
    return invalid("The 'exp' claim was not of type Number");
  const principal = claims[options.principalClaimName];
  if (principal === undefined || principal === null) {
    return invalid(`Required claim missing: ${options.principalClaimName}`);
  }
  if (typeof principal !== 'string') {
    return invalid(`The ${options.principalClaimName} claim had the incorrect type: ${typeof principal}`);
  }
  if (principal.trim() === '')
    return invalid(`No principal name in JWT claim: ${options.principalClaimName}`);
  const iat = claims.iat;
  if (iat !== undefined && iat !== null) {
    if (typeof iat !== 'number' || !Number.isFinite(iat))
      return invalid("The 'iat' claim was not of type Number");
    if (1000 * iat > nowMs + options.allowableClockSkewMs) {
      return invalid(
        `The Issued At value (${iat} seconds) was after the indicated time (${nowMs} ms) plus allowable clock skew (${options.allowableClockSkewMs} ms)`,
      );
    }
  }
  if (nowMs - options.allowableClockSkewMs >= 1000 * exp) {
    return invalid(
      `The indicated time (${nowMs} ms) minus allowable clock skew (${options.allowableClockSkewMs} ms) was on or after the Expiration Time value (${exp} seconds)`,
    );
  }
  if (typeof iat === 'number' && exp <= iat) {
    return invalid(
      `The Expiration Time time (${exp} seconds) was not after the Issued At time (${iat} seconds)`,
    );
  }
  for (const required of options.requiredScope) {
    if (!scope.includes(required)) {
      return {
        valid: false,
        status: 'insufficient_scope',
        scope: `[${options.requiredScope.join(', ')}]`,
        reason: `The provided scope ([${scope.join(', ')}]) was missing a required scope (${required}).  All required scope elements: [${options.requiredScope.join(', ')}]`,
      };
    }
  }
  return { valid: true, principalName: principal, expiresAtMs: Math.round(exp * 1000), scope };
}
