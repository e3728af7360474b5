/**
 * The small builders the OpenAPI document is written with (openapi-paths.ts,
 * openapi-components.ts): references into components, JSON bodies, strict objects, nullable and
 * counted fields, query parameters.
 */
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const parameter = (name: string) => ({ $ref: `#/components/parameters/${name}` });
export const json = (schema: object) => ({ content: { "application/json": { schema } } });
export const nullable = (type: string, extra: object = {}) => ({ type: [type, "null"], ...extra });
export const orNull = (schema: object) => ({ anyOf: [schema, { type: "null" }] });
export const time = (description: string) => nullable("string", { format: "date-time", description });
export const count = (description: string) => ({ type: "integer", minimum: 0, description });
export const object = (properties: Record<string, object>, required: string[] = Object.keys(properties)) => ({
  type: "object",
  properties,
  required,
  additionalProperties: false,
});
export const query = (name: string, schema: object, description: string) => ({
  name,
  in: "query",
  schema,
  description,
});
