// Validates an OpenAPI (Swagger 2.0) document with @apidevtools/swagger-parser:
// the schema, and every $ref. Usage: node check-openapi.mjs FILE
import SwaggerParser from "@apidevtools/swagger-parser";

const file = process.argv[2];
try {
  const api = await SwaggerParser.validate(file);
  const paths = Object.keys(api.paths).length;
  const security = Object.keys(api.securityDefinitions ?? {});
  if (security.length === 0) {
    throw new Error("no securityDefinitions");
  }
  console.log(`${file}: valid ${api.swagger ? "Swagger " + api.swagger : "OpenAPI"}, ${paths} paths, security ${security.join(", ")}`);
} catch (err) {
  console.error(`${file}: ${err.message}`);
  process.exit(1);
}
