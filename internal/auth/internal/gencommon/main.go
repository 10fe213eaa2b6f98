// Command gencommon writes the common-password list that package auth embeds.
//
// It takes the first 10,000 entries of data/passwords.txt in
// github.com/trustelem/zxcvbn v1.0.1 (MIT licence), the ranked password
// frequency list that zxcvbn builds its "passwords" dictionary from, and
// writes one lower-cased password per line. The module is fetched with
// `go mod download`, which verifies it against the checksum database, so the
// module never becomes a dependency of Super Agent.
//
// Run it from internal/auth with `go generate` (see policy.go).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	module   = "github.com/trustelem/zxcvbn"
	version  = "v1.0.1"
	dataFile = "data/passwords.txt"
	count    = 10000
)

func main() {
	out := flag.String("o", "common_passwords.txt", "output file")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gencommon:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	dir, err := moduleDir()
	if err != nil {
		return err
	}
	words, err := topPasswords(filepath.Join(dir, dataFile), count)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, w := range words {
		buf.WriteString(w)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// moduleDir downloads (or finds in the module cache) the zxcvbn module and
// returns its directory.
func moduleDir() (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(raw, &info); err != nil {
		return "", fmt.Errorf("read go mod download output: %w", err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	return info.Dir, nil
}

// topPasswords returns the first n distinct passwords of a zxcvbn frequency
// file, whose lines are "<password> <count>" in decreasing frequency.
func topPasswords(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open frequency list: %w", err)
	}
	defer f.Close()
	seen := make(map[string]bool, n)
	words := make([]string, 0, n)
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(words) < n {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		w := strings.ToLower(fields[0])
		if seen[w] {
			continue
		}
		seen[w] = true
		words = append(words, w)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(words) < n {
		return nil, fmt.Errorf("%s has only %d distinct passwords, want %d", path, len(words), n)
	}
	return words, nil
}
