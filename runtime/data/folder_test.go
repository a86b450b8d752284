package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func solid(w, h int, c color.Color) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

// wantColor checks that every pixel of x (3×size×size, ImageNet
// normalised) is rgb within tol (on the 0..255 scale).
func wantColor(t *testing.T, what string, x []float32, size int, rgb [3]float64, tol float64) {
	t.Helper()
	for c := 0; c < 3; c++ {
		for j, v := range x[c*size*size : (c+1)*size*size] {
			raw := (float64(v)*float64(ImageNetNorm.Std[c]) + float64(ImageNetNorm.Mean[c])) * 255
			if math.Abs(raw-rgb[c]) > tol {
				t.Fatalf("%s: channel %d pixel %d is %.2f, want %.0f", what, c, j, raw, rgb[c])
			}
		}
	}
}

// writeFolder makes an image folder: class "b_dog" holds a red PNG, a
// grey PNG and a stripy wide PNG; class "a_cat" a blue JPEG (in a
// subfolder) and a stray text file; a hidden file and folder are ignored.
func writeFolder(t testing.TB, dir string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "b_dog", "red.png"), encodePNG(t, solid(40, 30, color.NRGBA{200, 10, 20, 255})))
	gray := image.NewGray(image.Rect(0, 0, 20, 20))
	for i := range gray.Pix {
		gray.Pix[i] = 100
	}
	writeFile(t, filepath.Join(dir, "b_dog", "grey.PNG"), encodePNG(t, gray))
	// 24×8: columns 0..7 red, 8..15 green, 16..23 blue; the centre
	// square is all green.
	wide := image.NewRGBA(image.Rect(0, 0, 24, 8))
	for y := 0; y < 8; y++ {
		for x := 0; x < 24; x++ {
			c := color.RGBA{255, 0, 0, 255}
			if x >= 16 {
				c = color.RGBA{0, 0, 255, 255}
			} else if x >= 8 {
				c = color.RGBA{0, 255, 0, 255}
			}
			wide.Set(x, y, c)
		}
	}
	writeFile(t, filepath.Join(dir, "b_dog", "wide.png"), encodePNG(t, wide))
	writeFile(t, filepath.Join(dir, "a_cat", "sub", "blue.jpg"), encodeJPEG(t, solid(64, 48, color.NRGBA{20, 40, 220, 255})))
	writeFile(t, filepath.Join(dir, "a_cat", "notes.txt"), []byte("not an image"))
	writeFile(t, filepath.Join(dir, "a_cat", ".hidden.jpg"), []byte("garbage"))
	writeFile(t, filepath.Join(dir, ".cache", "x.png"), []byte("garbage"))
}

func TestImageFolder(t *testing.T) {
	dir := t.TempDir()
	writeFolder(t, dir)
	const size = 8
	ds, err := ImageFolder(dir, size)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ds.ClassNames(), []string{"a_cat", "b_dog"}) {
		t.Fatalf("classes %v", ds.ClassNames())
	}
	if ds.Len() != 4 || ds.Shape() != (Shape{3, size, size}) {
		t.Fatalf("len %d, shape %v", ds.Len(), ds.Shape())
	}
	// Files in walk order: a_cat/sub/blue.jpg, b_dog/grey.PNG,
	// b_dog/red.png, b_dog/wide.png.
	want := []struct {
		label int
		rgb   [3]float64
		tol   float64
	}{
		{0, [3]float64{20, 40, 220}, 6}, // JPEG is lossy
		{1, [3]float64{100, 100, 100}, 0.01},
		{1, [3]float64{200, 10, 20}, 0.01},
		{1, [3]float64{0, 255, 0}, 0.01}, // the centre of the stripes
	}
	x := make([]float32, ds.Shape().Elems())
	for i, w := range want {
		label, err := ds.Example(i, x)
		if err != nil {
			t.Fatal(err)
		}
		if label != w.label {
			t.Errorf("example %d: label %d, want %d", i, label, w.label)
		}
		wantColor(t, filepath.Base(ds.(*folder).files[i]), x, size, w.rgb, w.tol)
	}

	// Upscaling works too, and CenterCrop cuts the middle.
	big, err := ImageFolder(dir, 50)
	if err != nil {
		t.Fatal(err)
	}
	cc := CenterCrop(big, 20)
	if cc.Shape() != (Shape{3, 20, 20}) {
		t.Fatalf("center crop shape %v", cc.Shape())
	}
	y := make([]float32, cc.Shape().Elems())
	if _, err := cc.Example(3, y); err != nil {
		t.Fatal(err)
	}
	wantColor(t, "centre crop of wide.png", y, 20, [3]float64{0, 255, 0}, 0.01)
	if _, err := CenterCrop(big, 51).Example(0, make([]float32, 3*51*51)); err == nil {
		t.Error("center crop larger than the image: no error")
	}
}

func TestImageFolderErrors(t *testing.T) {
	noise := image.NewGray(image.Rect(0, 0, 128, 128))
	for i := range noise.Pix {
		noise.Pix[i] = byte(i * 7919 % 251)
	}
	img := encodeJPEG(t, noise) // cut in half, its header is intact
	for _, tc := range []struct {
		name, file string
		data       []byte
		words      []string
	}{
		{"truncated jpeg", "cls/a.jpg", img[:len(img)/2], []string{"bad jpeg image"}},
		{"garbage png", "cls/b.png", []byte("\x89PNG\r\n\x1a\nnot really"), []string{"bad image"}},
		{"unknown format", "cls/c.jpeg", []byte("hello"), []string{"unknown format"}},
		{"empty", "cls/d.jpg", nil, []string{"bad image"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, tc.file), tc.data)
			ds, err := ImageFolder(dir, 16)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ds.Example(0, make([]float32, 3*16*16))
			wantFileError(t, err, tc.file, tc.words...)
		})
	}

	t.Run("empty class", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "a", "x.png"), encodePNG(t, solid(4, 4, color.White)))
		writeFile(t, filepath.Join(dir, "b", "readme.txt"), []byte("x"))
		_, err := ImageFolder(dir, 4)
		wantFileError(t, err, "b", "no .jpg, .jpeg or .png files")
	})
	t.Run("no classes", func(t *testing.T) {
		dir := t.TempDir()
		_, err := ImageFolder(dir, 4)
		wantFileError(t, err, filepath.Base(dir), "no class subfolders")
	})
	t.Run("missing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nope")
		_, err := ImageFolder(dir, 4)
		wantFileError(t, err, "nope", "no such file")
	})
	t.Run("file removed", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "a", "x.png")
		writeFile(t, p, encodePNG(t, solid(4, 4, color.White)))
		ds, err := ImageFolder(dir, 4)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
		_, err = ds.Example(0, make([]float32, 48))
		wantFileError(t, err, "x.png", "no such file")
	})
}

func TestResample(t *testing.T) {
	// A constant image stays constant at any size; a 2-pixel checkerboard
	// shrunk by 4 averages to grey.
	for _, tc := range []struct{ side, size int }{{10, 3}, {3, 10}, {7, 7}, {100, 33}, {1, 5}} {
		p := make([]float32, 3*tc.side*tc.side)
		for i := range p {
			p[i] = 0.25
		}
		for i, v := range resample(p, tc.side, tc.size) {
			if math.Abs(float64(v)-0.25) > 1e-5 {
				t.Fatalf("%d→%d: value %d is %g", tc.side, tc.size, i, v)
			}
		}
	}
	side := 32
	p := make([]float32, 3*side*side)
	for c := 0; c < 3; c++ {
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				if (x+y)%2 == 0 {
					p[(c*side+y)*side+x] = 1
				}
			}
		}
	}
	for i, v := range resample(p, side, 8) {
		if math.Abs(float64(v)-0.5) > 0.02 {
			t.Fatalf("checkerboard 32→8: value %d is %g, want 0.5 (antialiased)", i, v)
		}
	}
}
