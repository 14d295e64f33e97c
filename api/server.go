package api

import (
	"net/http"
	"time"
)

// The HTTP server's bounds. Every request is a GET (or the dashboard's
// small sign-in form), so reading one is quick; a slow or stalled client
// must not hold a connection and a goroutine for long.
const (
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout = 30 * time.Second
	// WriteTimeout bounds writing a response, from the end of the headers
	// read: above the dashboard's query timeout (15s), so a slow query
	// still gets its 503 out. The profiles under /debug/pprof/ that sample
	// for ?seconds=N (profile, trace) need no more: net/http/pprof moves
	// their deadline to WriteTimeout + N itself.
	WriteTimeout = 30 * time.Second
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds a request's headers; bounced's clients send a
	// few hundred bytes.
	MaxHeaderBytes = 64 << 10
)

// NewServer is the http.Server for h (from Handler) with the bounds above.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}
