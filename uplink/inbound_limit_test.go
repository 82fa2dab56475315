package uplink

import (
	"bytes"
	"encoding/binary"
	"net"
	"runtime"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// writePublish writes a PUBLISH of size payload bytes (the first bytes
// head, then zeros) without holding the payload in memory.
func writePublish(t *testing.T, w net.Conn, topic string, id uint16, head []byte, size int) {
	t.Helper()
	vh := binary.BigEndian.AppendUint16(nil, uint16(len(topic)))
	vh = append(vh, topic...)
	vh = binary.BigEndian.AppendUint16(vh, id)
	b := appendRemaining([]byte{publishType<<4 | 1<<1}, len(vh)+size) // QoS 1
	b = append(append(b, vh...), head...)
	if _, err := w.Write(b); err != nil {
		t.Error(err)
		return
	}
	zeros := make([]byte, 32<<10)
	for left := size - len(head); left > 0; left -= len(zeros) {
		if _, err := w.Write(zeros[:min(left, len(zeros))]); err != nil {
			t.Error(err)
			return
		}
	}
}

// TestLimitConnCutsLargePublish: a PUBLISH over the limit reaches paho's
// packet reader as a small stand-in with the same topic and packet id, the
// packets around it untouched, and reading it allocates a bounded amount,
// not its size (64 MiB here; Mosquitto lets 256 MiB through by default).
func TestLimitConnCutsLargePublish(t *testing.T) {
	const big = 64 << 20
	client, broker := net.Pipe()
	defer client.Close()
	conn := newLimitConn(client, 256<<10)
	head := []byte("version = 42\n[[stream]]\n")
	go func() {
		small := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		small.TopicName, small.Qos, small.MessageID, small.Payload = "p/config/set", 1, 6, []byte("version = 1\n")
		small.Write(broker)
		writePublish(t, broker, "p/config/set", 7, head, big)
		packets.NewControlPacket(packets.Pingresp).Write(broker)
	}()

	p, err := packets.ReadPacket(conn)
	if pp, ok := p.(*packets.PublishPacket); err != nil || !ok || pp.MessageID != 6 || string(pp.Payload) != "version = 1\n" {
		t.Fatalf("small publish: %v %v", p, err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	p, err = packets.ReadPacket(conn)
	runtime.ReadMemStats(&after)
	pp, ok := p.(*packets.PublishPacket)
	if err != nil || !ok || pp.MessageID != 7 || pp.TopicName != "p/config/set" || pp.Qos != 1 {
		t.Fatalf("large publish: %v %v", p, err)
	}
	size, kept, ok := CutPayload(pp.Payload)
	if !ok || size != big || !bytes.HasPrefix(kept, head) || len(kept) != cutHead {
		t.Errorf("stand-in: cut %v, size %d, %d bytes kept", ok, size, len(kept))
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("reading a %d-byte PUBLISH allocated %d bytes", big, n)
	}
	if p, err := packets.ReadPacket(conn); err != nil || p.Details().Qos != 0 {
		t.Errorf("the packet after: %v %v", p, err)
	} else if _, ok := p.(*packets.PingrespPacket); !ok {
		t.Errorf("the packet after is %T, want PINGRESP", p)
	}
	if _, _, ok := CutPayload([]byte("version = 1\n")); ok {
		t.Error("an ordinary payload taken for a stand-in")
	}
}
