// Package gen holds the code and the OpenAPI document that `make generate`
// produces from proto/. Everything below this folder is generated except this
// file, which exposes the merged OpenAPI document to the gateway (go:embed
// cannot reach outside its own module).
package gen

import _ "embed"

// OpenAPI is the merged OpenAPI v2 document of every service.
//
//go:embed openapi/convene.swagger.json
var OpenAPI []byte
