/**
 * The JSON-schema pieces every route shares, and the validators that check them: bodies strictly (a JSON
 * body already has its types, so `"5"` is not a number and `["1"]` is not a string), query strings and
 * path parameters with coercion (they are text), plus two keywords ajv lacks — well-formed Unicode and
 * finite numbers.
 */
import { Ajv, type FuncKeywordDefinition, type Options, type SchemaValidateFunction } from "ajv";
import type { FastifySchemaCompiler } from "fastify";

/** The one limit on ids (users, items) on every route, in code points: 4 UTF-8 bytes each fit the store's 1 KiB. */
export const MAX_ID_LENGTH = 256;

/**
 * The router's limit on a path parameter, which it measures percent-encoded: a code point is at most
 * 4 bytes of UTF-8, 12 characters encoded, so every id the schema allows reaches its validation (400
 * with the reason) instead of a bare 414.
 */
export const MAX_PARAM_LENGTH = 12 * MAX_ID_LENGTH;

/**
 * A user or item id. Lone surrogates are refused: the store keeps UTF-8, where they turn into U+FFFD,
 * so after a restart the id would name someone else.
 */
export const idSchema = { type: "string", minLength: 1, maxLength: MAX_ID_LENGTH, wellFormed: true } as const;

/** A short free-text name (an event type, a feature name). */
export const nameSchema = { type: "string", minLength: 1, maxLength: 64, wellFormed: true } as const;

/**
 * A response body's schema: the serializer writes only the properties listed, so every one is; those in
 * `required` (default all) are always there.
 */
export function responseObject<P extends Record<string, object>>(
  properties: P,
  required: readonly string[] = Object.keys(properties),
) {
  return { type: "object", required, properties } as const;
}

/** A nullable string in a response. */
export const nullableString = { type: ["string", "null"] } as const;

const loneSurrogate = /\p{Surrogate}/u;

/** A keyword `name: true` that holds when `holds(data)`, and says `message` when not. */
function keyword(name: string, message: string, holds: (data: unknown) => boolean): FuncKeywordDefinition {
  const validate: SchemaValidateFunction = (wanted: boolean, data: unknown) => {
    if (!wanted || holds(data)) return true;
    validate.errors = [{ keyword: name, message, params: {} }];
    return false;
  };
  // No `type`: ajv would then skip the keyword for the very values it is for (Infinity is not a "number" to it).
  return { keyword: name, schemaType: "boolean", errors: true, validate };
}

const keywords = [
  keyword(
    "wellFormed",
    "must be well-formed Unicode (no lone surrogates)",
    (data) => typeof data !== "string" || !loneSurrogate.test(data),
  ),
  // ajv coerces "Infinity" in a query string to a number and then skips minimum and maximum for it.
  keyword("finite", "must be a finite number", (data) => typeof data !== "number" || Number.isFinite(data)),
];

const common: Options = {
  // Validation reports every problem, not just the first.
  allErrors: true,
  useDefaults: true,
  removeAdditional: false,
  allowUnionTypes: true,
  keywords,
};
const strict = new Ajv({ ...common, coerceTypes: false });
// "array": a repeated query parameter and a single one read alike.
const coercing = new Ajv({ ...common, coerceTypes: "array" });

/** Fastify's validator compiler: bodies strict, query strings, params and headers coerced from text. */
export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === "body" ? strict : coercing).compile(schema) as ReturnType<FastifySchemaCompiler<object>>;
