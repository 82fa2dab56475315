package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/karana-energy/karana-edge/remote"
)

// cmdSign is the operators' side of signed remote config:
//
//	karana-edge sign -key FILE DOC    prints the envelope for DOC ("-": stdin)
//	karana-edge sign -genkey FILE     writes a new private key, prints the public key
//
// The envelope is documented in package remote.
func cmdSign(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("karana-edge sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", "", "PEM PKCS#8 ed25519 private key")
	genkey := fs.String("genkey", "", "write a new private key to this file (mode 0600) and print its public key")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if *genkey != "" {
		priv, pub, err := remote.GenerateKey()
		if err != nil {
			fmt.Fprintln(stderr, "sign -genkey:", err)
			return exitFailure
		}
		f, err := os.OpenFile(*genkey, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			fmt.Fprintln(stderr, "sign -genkey:", err)
			return exitFailure
		}
		if _, err := f.Write(priv); err != nil {
			f.Close()
			fmt.Fprintln(stderr, "sign -genkey:", err)
			return exitFailure
		}
		if err := f.Close(); err != nil {
			fmt.Fprintln(stderr, "sign -genkey:", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "# put this in the box's [remote] section:\npublic_key = %q\n", pub)
		return exitOK
	}
	if *keyFile == "" || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: karana-edge sign -key FILE DOC   (DOC \"-\" reads stdin)\n       karana-edge sign -genkey FILE")
		return exitConfig
	}
	pem, err := os.ReadFile(*keyFile)
	if err != nil {
		fmt.Fprintln(stderr, "sign:", err)
		return exitConfig
	}
	key, err := remote.ParsePrivateKey(pem)
	if err != nil {
		fmt.Fprintf(stderr, "sign: %s: %v\n", *keyFile, err)
		return exitConfig
	}
	var doc []byte
	if fs.Arg(0) == "-" {
		doc, err = io.ReadAll(stdin)
	} else {
		doc, err = os.ReadFile(fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintln(stderr, "sign:", err)
		return exitConfig
	}
	// Check what the box will check first, so an operator learns of a
	// missing version or a syntax error here rather than from config/result.
	if _, err := remote.Parse(doc, nil); err != nil {
		fmt.Fprintf(stderr, "sign: %s: %v\n", fs.Arg(0), err)
		return exitConfig
	}
	env, err := remote.Sign(key, doc)
	if err != nil {
		fmt.Fprintln(stderr, "sign:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s\n", env)
	return exitOK
}
