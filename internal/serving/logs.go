package serving

import (
	"bytes"
	"os"
	"strings"
	"sync"
)

// maxLogSize bounds a replica's log file: past it the file is rotated to
// <name>.1 (replacing the previous one), so a chatty server keeps at most
// twice this on disk per replica however long it runs.
const maxLogSize = 4 << 20

// tailSize is how much of a run's latest output is kept in memory for error
// messages, and tailLines how many of its last lines an error quotes.
const (
	tailSize  = 8 << 10
	tailLines = 20
)

// logFile is a replica's log: appended to across restarts, rotated at max.
type logFile struct {
	mu   sync.Mutex
	path string
	max  int64 // rotation size
	f    *os.File
	size int64
}

func openLog(path string, limit int64) (*logFile, error) {
	l := &logFile{path: path, max: limit}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logFile) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Write never fails towards the caller: the replica's output is copied from a
// pipe, and a full disk must not stall the process on a full pipe. A write
// that fails is dropped.
func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return len(p), nil
	}
	if l.size > 0 && l.size+int64(len(p)) > l.max {
		l.rotate()
		if l.f == nil {
			return len(p), nil
		}
	}
	n, _ := l.f.Write(p)
	l.size += int64(n)
	return len(p), nil
}

func (l *logFile) rotate() {
	l.f.Close()
	l.f = nil
	_ = os.Rename(l.path, l.path+".1")
	// On failure the output is dropped until the next rotation attempt; the
	// replica keeps running.
	if err := l.open(); err != nil {
		l.f = nil
	}
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// tail keeps the last tailSize bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - tailSize; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the last tailLines lines, without a trailing newline.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := bytes.TrimRight(t.buf, "\n")
	for i, n := len(b)-1, 0; i >= 0; i-- {
		if b[i] == '\n' {
			if n++; n == tailLines {
				b = b[i+1:]
				break
			}
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
