/**
 * The HTTP API described as OpenAPI 3.1, served at GET /api/openapi.json. The one description of
 * the endpoints' parameters and answers: test/e2e/http-api-openapi.test.ts validates it with an
 * OpenAPI validator, checks every path and method against endpoints.ts, and checks real answers
 * against these schemas.
 */
import { components } from "./openapi-components.js";
import { paths } from "./openapi-paths.js";

export const openApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Isotope Sessions HTTP API",
    version: "1",
    description:
      "The seed's session endpoints as JSON on the service's one port (HTTP/1.1 and HTTP/2, TLS when configured). " +
      "Each endpoint is one isotope.session.v1.SessionService call through the same validation, access control and " +
      "logging as the RPCs. Query parameters an endpoint does not know are refused, except on the list and restore " +
      "endpoints, where each is a metadata filter (user_id=u1). A failure is {code, message} with Connect's code name.",
  },
  security: [{ bearerAuth: [] }, {}],
  paths,
  components,
};
