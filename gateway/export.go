package gateway

import (
	"errors"
	"io"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	registrationsv1 "convene.dev/gen/convene/registrations/v1"
)

// exportHandler streams ExportRegistrations as a CSV download. The generated
// handler would write a newline between chunks (it treats streams as
// newline-delimited JSON), which would put blank lines into the file; this
// one writes the chunks as they come.
func exportHandler(mux *runtime.ServeMux, client registrationsv1.RegistrationServiceClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		event := r.PathValue("event")
		_, outbound := runtime.MarshalerForRequest(mux, r)
		ctx, err := runtime.AnnotateContext(r.Context(), mux, r,
			"/convene.registrations.v1.RegistrationService/ExportRegistrations",
			runtime.WithHTTPPathPattern("/v1/{parent=events/*}/registrations:export"))
		if err != nil {
			runtime.HTTPError(r.Context(), mux, outbound, w, r, err)
			return
		}
		stream, err := client.ExportRegistrations(ctx, &registrationsv1.ExportRegistrationsRequest{
			Parent: "events/" + event,
			Filter: r.URL.Query().Get("filter"),
		})
		if err != nil {
			runtime.HTTPError(ctx, mux, outbound, w, r, err)
			return
		}
		wrote := false
		for {
			chunk, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if !wrote {
					runtime.HTTPError(ctx, mux, outbound, w, r, err)
				}
				// Headers are gone: all we can do is end the response short.
				return
			}
			if !wrote {
				w.Header().Set("Content-Type", chunk.GetContentType())
				w.Header().Set("Content-Disposition", `attachment; filename="`+event+`-registrations.csv"`)
				wrote = true
			}
			if _, err := w.Write(chunk.GetData()); err != nil {
				return
			}
		}
	})
}
