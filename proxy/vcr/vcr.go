// Package vcr reads cassettes recorded by vcrpy (the Python record/replay
// library) and turns them into Probity cassettes, so traffic recorded by
// other tools can be replayed and used as a test upstream. vcrpy types stop
// here: callers only see cassette.Cassette.
package vcr

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/probity/probity"
	"github.com/probity/probity/internal/yamlx"
	"github.com/probity/probity/proxy/cassette"
)

type file struct {
	Interactions []interaction `yaml:"interactions"`
}

type interaction struct {
	Request struct {
		Body    any                 `yaml:"body"`
		Headers map[string][]string `yaml:"headers"`
		Method  string              `yaml:"method"`
		URI     string              `yaml:"uri"`
	} `yaml:"request"`
	Response struct {
		Body    any                 `yaml:"body"`
		Headers map[string][]string `yaml:"headers"`
		Status  struct {
			Code int `yaml:"code"`
		} `yaml:"status"`
	} `yaml:"response"`
}

// ReadFile reads the vcrpy cassette at path.
func ReadFile(path string) (*cassette.Cassette, error) {
	data, err := yamlx.ReadFile(path, "vcr cassette", yamlx.MaxCassetteBytes)
	if err != nil {
		return nil, err
	}
	return Decode(data, path)
}

// Decode converts a vcrpy YAML cassette to a Probity cassette. Response
// bodies recorded compressed (Content-Encoding: gzip, stored by vcrpy as
// !!binary) keep their exact bytes: Body.Encoding names the encoding, so a
// server built from the cassette can send them as the provider did.
// Malformed input returns a *probity.Error (EINVALID) naming the file.
func Decode(data []byte, name string) (c *cassette.Cassette, err error) {
	defer func() {
		// The YAML decoder is third-party code fed arbitrary bytes; a panic
		// in it must not take the caller down.
		if r := recover(); r != nil {
			c, err = nil, &probity.Error{Code: probity.EINVALID, File: name, Message: fmt.Sprintf("malformed vcr cassette: %v", r)}
		}
	}()
	if err := yamlx.Check(name, data, yamlx.MaxCassetteBytes); err != nil {
		return nil, err
	}
	var f file
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.AllowDuplicateMapKey()); err != nil {
		return nil, &probity.Error{Code: probity.EINVALID, File: name, Message: "malformed vcr cassette", Err: err}
	}
	c = cassette.New(filepath.Base(strings.TrimSuffix(name, filepath.Ext(name))), "", zeroTime)
	for i, in := range f.Interactions {
		where := fmt.Sprintf("interaction %d", i)
		u, err := url.Parse(in.Request.URI)
		if err != nil || in.Request.Method == "" {
			return nil, &probity.Error{Code: probity.EINVALID, File: name, Where: where, Message: fmt.Sprintf("bad request uri %q or method", in.Request.URI)}
		}
		if c.Upstream == "" {
			c.Upstream = u.Scheme + "://" + u.Host
		}
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		reqBody, err := bodyBytes(in.Request.Body)
		if err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: name, Where: where, Message: "request body", Err: err}
		}
		respBody, err := bodyBytes(in.Response.Body)
		if err != nil {
			return nil, &probity.Error{Code: probity.EINVALID, File: name, Where: where, Message: "response body", Err: err}
		}
		rh := header(in.Response.Headers)
		b := cassette.NewBody(respBody)
		if enc := strings.ToLower(rh.Get("Content-Encoding")); enc != "" && enc != "identity" {
			b = cassette.NewBody(respBody)
			b.Encoding = enc
			if enc == "gzip" {
				// Keep the text readable when it decodes; replay serves it
				// decoded, which is what clients see anyway. vcrpy's
				// decode_compressed_response option stores the body already
				// decoded under a header that still says gzip: then the
				// stored bytes are the content.
				b.Encoding = ""
				b.DecodedFrom = "gzip"
				if zr, err := gzip.NewReader(bytes.NewReader(respBody)); err == nil {
					if plain, err := io.ReadAll(zr); err == nil {
						b = cassette.NewBody(plain)
						b.DecodedFrom = "gzip"
					}
				}
			}
		}
		status := in.Response.Status.Code
		if status == 0 {
			status = http.StatusOK
		}
		ct := rh.Get("Content-Type")
		c.Interactions = append(c.Interactions, cassette.Interaction{
			Seq: i,
			Request: cassette.Request{Method: strings.ToUpper(in.Request.Method), Path: path, Query: u.RawQuery,
				Header: header(in.Request.Headers), Body: cassette.NewBody(reqBody)},
			Response: &cassette.Response{Status: status, Header: rh, Body: b,
				Stream: strings.HasPrefix(ct, "text/event-stream")},
		})
	}
	return c, nil
}

// RawResponseBody returns the response body of in exactly as the provider
// sent it on the wire: compressed again when the cassette stored it decoded
// from gzip. Test upstreams use it to exercise compressed passthrough.
func RawResponseBody(in cassette.Interaction) ([]byte, error) {
	b, err := in.Response.Body.Bytes()
	if err != nil || in.Response.Body.DecodedFrom != "gzip" {
		return b, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes(), nil
}

func header(m map[string][]string) http.Header {
	h := http.Header{}
	for k, vs := range m {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	return h
}

// bodyBytes accepts the shapes vcrpy writes: null, a string, a !!binary
// value, or a mapping {string: ...}.
func bodyBytes(v any) ([]byte, error) {
	switch b := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(b), nil
	case []byte:
		return b, nil
	case map[string]any:
		return bodyBytes(b["string"])
	}
	return nil, fmt.Errorf("unexpected body of type %T", v)
}

var zeroTime = time.Time{}
