package web

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/karana-energy/karana-edge/config"
)

// Config is the [http] section. The zero value is off.
type Config struct {
	// Listen is the page's address, "127.0.0.1:8080"; "" (the default)
	// serves nothing. Any address that is not loopback needs PasswordFile.
	Listen string `toml:"listen"`
	// PasswordFile holds the bcrypt hash of the page's password, written by
	// `karana-edge passwd`. With it every request needs the login (user
	// User), on loopback too.
	PasswordFile string `toml:"password_file"`
	// MetricsReadings adds the latest value of every series to /metrics.
	MetricsReadings bool `toml:"metrics_readings"`
}

// User is the HTTP Basic user name the page asks for.
const User = "karana"

// Validate checks the section; keys are relative to [http]. The password
// file is read here, so `check` refuses a page that would refuse every
// login.
func (c *Config) Validate() error {
	var errs config.FieldErrors
	if c.Listen == "" {
		if c.PasswordFile != "" {
			if _, err := ReadHash(c.PasswordFile); err != nil {
				errs.Add("password_file", "%v", err)
			}
		}
		return errs.Err()
	}
	loopback, err := IsLoopback(c.Listen)
	if err != nil {
		errs.Add("listen", "%v", err)
		return errs.Err()
	}
	switch {
	case c.PasswordFile != "":
		if _, err := ReadHash(c.PasswordFile); err != nil {
			errs.Add("password_file", "%v", err)
		}
	case !loopback:
		errs.Add("listen", "%q is reachable from other machines: set password_file (write it with `karana-edge passwd`), or listen on 127.0.0.1", c.Listen)
	}
	return errs.Err()
}

// IsLoopback reports whether listen (host:port) only accepts connections
// from this machine: a loopback IP or "localhost". An empty host is every
// interface; any other name may resolve to anything, so it is not.
func IsLoopback(listen string) (bool, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return false, fmt.Errorf("%q is not host:port (e.g. \"127.0.0.1:8080\"): %v", listen, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return false, fmt.Errorf("port %q of %q: want a number 0-65535", port, listen)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	if host == "" {
		return false, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false, nil
	}
	return ip.IsLoopback(), nil
}

// ReadHash reads a password file: one bcrypt hash, surrounding space
// ignored.
func ReadHash(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("password file: %w", err)
	}
	h := []byte(strings.TrimSpace(string(b)))
	if _, err := bcrypt.Cost(h); err != nil {
		return nil, fmt.Errorf("password file %s: not a bcrypt hash (write it with `karana-edge passwd`): %v", path, err)
	}
	return h, nil
}
