package dataset

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Roots are the directories whose files datasets may point at. The server
// reads those files and profiles show values, so anything outside them (say
// /etc) is refused.
type Roots struct{ dirs []string }

// NewRoots resolves each directory once, so later checks compare real paths.
func NewRoots(dirs []string) (Roots, error) {
	var r Roots
	for _, d := range dirs {
		resolved, err := resolvePath(d)
		if err != nil {
			return Roots{}, fmt.Errorf("data root %s: %w", d, err)
		}
		r.dirs = append(r.dirs, resolved)
	}
	return r, nil
}

// Allow resolves a local dataset path and checks it lies under a root;
// resolving first means a symbolic link cannot lead outside.
func (r Roots) Allow(p string) (string, error) {
	resolved, err := resolvePath(p)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s does not exist on the server; give a path the server can read, or a remote URI", p)
	}
	if err != nil {
		return "", fmt.Errorf("cannot resolve %s: %w", p, err)
	}
	for _, root := range r.dirs {
		if resolved == root || strings.HasPrefix(resolved, root+string(filepath.Separator)) {
			return resolved, nil
		}
	}
	if len(r.dirs) == 0 {
		return "", fmt.Errorf("this server reads no local files (start mlopsd with --data-root to allow a directory); use a remote URI")
	}
	return "", fmt.Errorf("%s is outside the directories this server may read (%s); move the file there or start mlopsd with another --data-root", p, strings.Join(r.dirs, ", "))
}

// resolvePath makes a path absolute and resolves its symbolic links.
func resolvePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
