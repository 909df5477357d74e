package gateway

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"testing"

	"github.com/oshichat/oshi/models"
)

func encodeGIF(t testing.TB, frames int, local bool) []byte {
	t.Helper()
	g := &gif.GIF{}
	for i := range frames {
		pal := color.Palette{color.Black, color.White}
		if local && i > 0 {
			pal = color.Palette{color.White, color.Black, color.Gray{128}}
		}
		img := image.NewPaletted(image.Rect(0, 0, 4, 4), pal)
		img.SetColorIndex(i%4, 0, 1)
		g.Image, g.Delay = append(g.Image, img), append(g.Delay, 5)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGIFFrames: frames are counted up to two, with global and local
// color tables and extensions, and a broken file counts what it has.
func TestGIFFrames(t *testing.T) {
	three := encodeGIF(t, 3, true)
	for _, tc := range []struct {
		name string
		data []byte
		want int
	}{
		{"one frame", encodeGIF(t, 1, false), 1},
		{"two frames", encodeGIF(t, 2, false), 2},
		{"local color tables", three, 2},
		{"cut short", three[:len(three)/2], 1},
		{"header only", three[:13], 0},
		{"empty", nil, 0},
	} {
		if got := gifFrames(tc.data); got != tc.want {
			t.Errorf("%s: gifFrames = %d; want %d", tc.name, got, tc.want)
		}
	}
}

// FuzzCheckEmojiImage: no upload makes the checks panic, and an accepted
// one has an accepted type.
func FuzzCheckEmojiImage(f *testing.F) {
	f.Add(encodeGIF(f, 2, true))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte("RIFF\x1a\x00\x00\x00WEBPVP8X"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var e models.Emoji
		if _, code, _ := checkEmojiImage(data, &e); code == "" && emojiTypes[e.ContentType] == "" {
			t.Fatalf("accepted as %q", e.ContentType)
		}
		gifFrames(data)
		webpAnimated(data)
	})
}
