package format

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestJSONTagsGolden(t *testing.T) {
	got, err := JSON{}.Format(taggedBatch())
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "json", "tagged.golden", got)

	var d struct {
		jsonBatch
		Tags map[string]string `json:"tags"`
	}
	dec := json.NewDecoder(bytes.NewReader(got))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if len(d.Tags) != 2 || d.Tags["site"] != "kisumu-3" || d.Tags["customer"] != "acme" {
		t.Errorf("tags %v", d.Tags)
	}
	if d.Count != 5 || d.FirstSeq != 101 || d.LastSeq != 106 || d.Dropped != 2 {
		t.Errorf("contract fields changed with tags: %+v", d.jsonBatch)
	}
	// no tags, no key: the untagged document is unchanged
	plain, _ := JSON{}.Format(goldenBatch())
	if bytes.Contains(plain, []byte(`"tags"`)) {
		t.Errorf("untagged batch has a tags key: %s", plain)
	}
}

func TestJSONTagsEscapedAndSorted(t *testing.T) {
	b := &Batch{Device: "d", Stream: "s", FirstSeq: 1, LastSeq: 1,
		Tags: map[string]string{"z": `quote " and \ back`, "a": "µ°C", "m": "x"}}
	got, _ := JSON{}.Format(b)
	want := `{"device":"d","stream":"s","first_seq":1,"last_seq":1,"count":0,"dropped":0,"tags":{"a":"µ°C","m":"x","z":"quote \" and \\ back"},"readings":[]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
