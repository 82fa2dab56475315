package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// basicAuth checks HTTP Basic credentials against a bcrypt hash. bcrypt
// costs about a second on a Pi Zero, and a browser sends the credentials
// with every request (the live updates included), so once a password has
// matched, its SHA-256 is kept and later requests compare that in
// constant time. Checks that need bcrypt run one at a time, so a client
// guessing passwords gets one try a second and cannot load every core.
type basicAuth struct {
	hash []byte

	mu   sync.Mutex // serialises bcrypt, guards good
	good [][sha256.Size]byte
}

// maxGood bounds the remembered passwords (there is one password; a
// changed password file needs a restart, which forgets them).
const maxGood = 4

func (a *basicAuth) ok(r *http.Request) bool {
	user, pass, found := r.BasicAuth()
	if !found || user != User {
		return false
	}
	sum := sha256.Sum256([]byte(pass))
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, g := range a.good {
		if subtle.ConstantTimeCompare(g[:], sum[:]) == 1 {
			return true
		}
	}
	if bcrypt.CompareHashAndPassword(a.hash, []byte(pass)) != nil {
		return false
	}
	if len(a.good) < maxGood {
		a.good = append(a.good, sum)
	}
	return true
}

func (a *basicAuth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.ok(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="karana-edge", charset="UTF-8"`)
			http.Error(w, "login required (user "+User+")", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
