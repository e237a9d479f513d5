// Package gen holds the code oapi-codegen generates from openapi.yaml: the
// Echo strict-server interfaces, the models, the embedded spec and a Go
// client. Never edit it by hand: change openapi.yaml and run `make generate`.
package gen

//go:generate go tool oapi-codegen -config ../oapi-codegen.yaml ../openapi.yaml
//go:generate go tool oapi-codegen -config ../oapi-codegen-client.yaml ../openapi.yaml
