package config

import "testing"

func TestValuePosAndOffset(t *testing.T) {
	src := "[[rule]]\nwhen  =  \"a \\\"b\\\" \\u00e9c\"\nclear = 'x \\y'\nexpr = \"\"\"\nline1\n  line2\"\"\"\nn = 5\n"
	doc, _, err := Parse("f.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path      string
		n         int // rune offset in the decoded value
		line, col int
		ok        bool
	}{
		// when  =  "a \"b\" \u00e9c": the value starts at col 11; decoded
		// `a "b" éc`, its 'c' (offset 7) is at col 11+2+2+1+2+1+6 = 25
		{"rule[0].when", 0, 2, 11, true},
		{"rule[0].when", 7, 2, 25, true},
		// literal strings have no escapes: the value starts at col 10,
		// offset 3 (the y after "x \\", the backslash taken as is) is at col 13
		{"rule[0].clear", 3, 3, 13, true},
		// """ then a newline: the value starts on the next line; offset
		// 8 ("line1\n  l") is line 6 col 3
		{"rule[0].expr", 8, 6, 3, true},
		{"rule[0].n", 0, 0, 0, false},
	}
	for _, tc := range cases {
		start, basic, ok := doc.ValuePos(tc.path)
		if ok != tc.ok {
			t.Errorf("%s: ok = %v", tc.path, ok)
			continue
		}
		if !ok {
			continue
		}
		p := doc.ValueOffset(start, basic, tc.n)
		if p.Line != tc.line || p.Col != tc.col {
			t.Errorf("%s offset %d: %d:%d, want %d:%d", tc.path, tc.n, p.Line, p.Col, tc.line, tc.col)
		}
	}
}
