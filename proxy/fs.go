package proxy

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// FS is the little the recorder needs from a file system. Writes must be
// atomic: a reader sees the old file or the new one, never a mix, so a
// crash or a full disk never leaves a corrupt cassette.
type FS interface {
	MkdirAll(dir string) error
	// WriteFileAtomic replaces name with data.
	WriteFileAtomic(name string, data []byte) error
	// WriteAtomic replaces name with what write writes, so a big file
	// (a long run's cassette) is streamed, never held in memory whole.
	WriteAtomic(name string, write func(io.Writer) error) error
}

// OSFS is the operating system's file system. WriteFileAtomic writes a
// temporary file in the same directory, syncs it and renames it over name.
// Files are created 0600 (less what the umask takes away): cassettes and
// traces hold conversations.
type OSFS struct{}

// MkdirAll creates dir and its parents.
func (OSFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

// WriteFileAtomic writes data to a temporary file next to name, syncs it
// and renames it into place; on any error the temporary file is removed and
// name is left as it was.
func (fs OSFS) WriteFileAtomic(name string, data []byte) error {
	return fs.WriteAtomic(name, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteAtomic is WriteFileAtomic for content written by write, streamed
// through a buffer.
func (OSFS) WriteAtomic(name string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	if err = write(bw); err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err = os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("rename %s: %w", name, err)
	}
	return nil
}
