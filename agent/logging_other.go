//go:build !unix

package agent

import "os"

func devIno(*os.File) (string, bool) { return "", false }
