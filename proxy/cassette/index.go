package cassette

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/probity/probity"
)

// Index is a cassette whose interactions are read when asked for: from
// its file (see OpenIndex), so a replay server holds a few bytes per call
// instead of the whole recording, or from memory (see IndexOf).
type Index struct {
	// Head is the cassette without its interactions.
	Head Cassette
	file string
	at   []span
	mem  []Interaction
}

// span is where one interaction's JSON lies in the file.
type span struct{ off, n int64 }

// IndexOf returns an Index over a cassette already in memory.
func IndexOf(c *Cassette) *Index {
	h := *c
	h.Interactions = nil
	return &Index{Head: h, mem: c.Interactions}
}

// Len returns the number of interactions.
func (ix *Index) Len() int {
	if ix.mem != nil {
		return len(ix.mem)
	}
	return len(ix.at)
}

// Interaction returns interaction i, reading it from the file when the
// index is of one.
func (ix *Index) Interaction(i int) (Interaction, error) {
	if ix.mem != nil {
		return ix.mem[i], nil
	}
	f, err := os.Open(ix.file)
	if err != nil {
		return Interaction{}, fmt.Errorf("read cassette %s: %w", ix.file, err)
	}
	defer f.Close()
	b := make([]byte, ix.at[i].n)
	if _, err := f.ReadAt(b, ix.at[i].off); err != nil {
		return Interaction{}, fmt.Errorf("read cassette %s: %w", ix.file, err)
	}
	var in Interaction
	if err := json.Unmarshal(bytes.TrimLeft(b, ", \t\r\n"), &in); err != nil {
		return Interaction{}, fmt.Errorf("read cassette %s interaction %d (changed since it was indexed?): %w", ix.file, i, err)
	}
	return in, nil
}

// OpenIndex reads the cassette file name once, checking it as Read does,
// and keeps only where each interaction lies. The file must stay in place
// while the index is used.
func OpenIndex(name string) (*Index, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, &probity.Error{Code: probity.ENOTFOUND, File: name, Message: "cannot open cassette", Err: err}
	}
	defer f.Close()
	ix := &Index{file: name}
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
	if err := indexInto(ix, dec, name); err != nil {
		return nil, err
	}
	if err := checkHead(&ix.Head, name); err != nil {
		return nil, err
	}
	return ix, nil
}

func indexInto(ix *Index, dec *json.Decoder, name string) error {
	tok, err := dec.Token()
	if err != nil {
		return invalid(name, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return &probity.Error{Code: probity.EINVALID, File: name, Where: "offset 0", Message: "malformed cassette: not a JSON object"}
	}
	h := &ix.Head
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return invalid(name, err)
		}
		key, _ := tok.(string)
		var target any
		switch key {
		case "format":
			target = &h.Format
		case "version":
			target = &h.Version
		case "run":
			target = &h.Run
		case "created":
			target = &h.Created
		case "upstream":
			target = &h.Upstream
		case "interactions":
			if err := indexInteractions(ix, dec, name); err != nil {
				return err
			}
			continue
		default:
			target = new(json.RawMessage)
		}
		if err := dec.Decode(target); err != nil {
			return invalid(name, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return invalid(name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &probity.Error{Code: probity.EINVALID, File: name, Where: fmt.Sprintf("offset %d", dec.InputOffset()),
			Message: "unexpected data after the cassette"}
	}
	return nil
}

func indexInteractions(ix *Index, dec *json.Decoder, name string) error {
	tok, err := dec.Token()
	if err != nil {
		return invalid(name, err)
	}
	if tok == nil {
		return nil // "interactions": null
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return &probity.Error{Code: probity.EINVALID, File: name, Where: fmt.Sprintf("offset %d", dec.InputOffset()),
			Message: "field interactions has the wrong type"}
	}
	for dec.More() {
		start := dec.InputOffset()
		var in Interaction
		if err := dec.Decode(&in); err != nil {
			return invalid(name, err)
		}
		if err := checkInteraction(in, len(ix.at), name); err != nil {
			return err
		}
		ix.at = append(ix.at, span{off: start, n: dec.InputOffset() - start})
	}
	_, err = dec.Token() // ']'
	if err != nil {
		return invalid(name, err)
	}
	return nil
}

// Each calls fn with every interaction in order, reading the file once.
func (ix *Index) Each(fn func(i int, in Interaction) error) error {
	if ix.mem != nil {
		for i, in := range ix.mem {
			if err := fn(i, in); err != nil {
				return err
			}
		}
		return nil
	}
	f, err := os.Open(ix.file)
	if err != nil {
		return fmt.Errorf("read cassette %s: %w", ix.file, err)
	}
	defer f.Close()
	var buf []byte
	for i, sp := range ix.at {
		if int64(cap(buf)) < sp.n {
			buf = make([]byte, sp.n)
		}
		b := buf[:sp.n]
		if _, err := f.ReadAt(b, sp.off); err != nil {
			return fmt.Errorf("read cassette %s: %w", ix.file, err)
		}
		var in Interaction
		if err := json.Unmarshal(bytes.TrimLeft(b, ", \t\r\n"), &in); err != nil {
			return fmt.Errorf("read cassette %s interaction %d (changed since it was indexed?): %w", ix.file, i, err)
		}
		if err := fn(i, in); err != nil {
			return err
		}
	}
	return nil
}
