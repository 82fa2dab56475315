package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/bcrypt"

	"github.com/karana-energy/karana-edge/agent"
	"github.com/karana-energy/karana-edge/internal/durable"
	"github.com/karana-energy/karana-edge/web"
)

// Password rules for the page's login: bcrypt reads at most 72 bytes, and
// a box on a site network wants more than a PIN.
const (
	minPassword = 8
	maxPassword = 72
)

// cmdPasswd writes the bcrypt hash of the technician's page password to
// [http] password_file (or -file). The password is read from the
// terminal with echo off, asked twice, or as one line from stdin when
// that is not a terminal; never from the command line, where ps and the
// shell history would show it.
func cmdPasswd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, cfgPath := flags("passwd", stderr)
	file := fs.String("file", "", "write the hash here (default: [http] password_file of the config)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "karana-edge passwd: the password is read from the terminal or stdin, never from the command line")
		return exitConfig
	}
	path := *file
	if path == "" {
		// Only [http] password_file is read: the config does not pass
		// check until the file it names exists.
		cfgFile := agent.ConfigPath(*cfgPath)
		var c struct {
			HTTP web.Config `toml:"http"`
		}
		if _, err := toml.DecodeFile(cfgFile, &c); err != nil {
			fmt.Fprintf(stderr, "karana-edge passwd: %v\n", err)
			return exitConfig
		}
		if path = c.HTTP.PasswordFile; path == "" {
			fmt.Fprintf(stderr, "karana-edge passwd: %s has no [http] password_file: set it, or give -file\n", cfgFile)
			return exitConfig
		}
	}
	pass, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "karana-edge passwd:", err)
		return exitConfig
	}
	hash, err := bcrypt.GenerateFromPassword(pass, bcrypt.DefaultCost)
	if err != nil {
		fmt.Fprintln(stderr, "karana-edge passwd:", err)
		return exitFailure
	}
	// 0640: the daemon's group (karana) reads it; nobody else needs to.
	if err := durable.WriteFile(path, append(hash, '\n'), 0o640); err != nil {
		fmt.Fprintln(stderr, "karana-edge passwd:", err)
		return exitFailure
	}
	if err := chgrpDaemon(path); err != nil {
		fmt.Fprintf(stderr, "karana-edge passwd: %v: make sure the daemon's user can read %s\n", err, path)
	}
	fmt.Fprintf(stdout, "wrote the page's password hash to %s (user %q); restart the daemon to use it\n", path, web.User)
	return exitOK
}

// readPassword reads the password: twice with echo off from a terminal,
// else the first line of stdin.
func readPassword(stdin io.Reader, stderr io.Writer) ([]byte, error) {
	var pass []byte
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(stderr, "Password for the technician's page: ")
		p1, err := readNoEcho(f)
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, err
		}
		fmt.Fprint(stderr, "Again: ")
		p2, err := readNoEcho(f)
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p1, p2) {
			return nil, errors.New("the two passwords differ")
		}
		pass = p1
	} else {
		line, err := bufio.NewReader(stdin).ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading the password from stdin: %w", err)
		}
		pass = bytes.TrimRight(line, "\r\n")
	}
	switch {
	case len(pass) < minPassword:
		return nil, fmt.Errorf("the password is %d bytes; at least %d", len(pass), minPassword)
	case len(pass) > maxPassword:
		return nil, fmt.Errorf("the password is %d bytes; bcrypt takes at most %d", len(pass), maxPassword)
	}
	return pass, nil
}

// readNoEcho reads one line from the terminal f without echoing it.
func readNoEcho(f *os.File) ([]byte, error) {
	restore, err := echoOff(f)
	if err != nil {
		return nil, fmt.Errorf("terminal: %w", err)
	}
	defer restore()
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := f.Read(b)
		if n == 1 {
			if b[0] == '\n' || b[0] == '\r' {
				return line, nil
			}
			line = append(line, b[0])
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				return line, nil
			}
			return nil, fmt.Errorf("reading the password: %w", err)
		}
	}
}

// chgrpDaemon gives path to the group "karana" (the daemon's, made by the
// package) when run as root and the group exists; otherwise it leaves the
// file to the user running passwd.
func chgrpDaemon(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	g, err := user.LookupGroup("karana")
	if err != nil {
		return nil // no such group here: not a packaged install
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return fmt.Errorf("group karana: gid %q", g.Gid)
	}
	if err := os.Chown(path, -1, gid); err != nil {
		return fmt.Errorf("chgrp karana %s: %w", path, err)
	}
	return nil
}
