package data

import (
	"fmt"
	"image"
	"image/color"
	"path/filepath"
	"runtime"
	"testing"
)

// benchLoader consumes b.N batches from l, across epochs, and reports
// images per second.
func benchLoader(b *testing.B, l *Loader) {
	b.Helper()
	defer l.Close()
	it := l.Epoch(0)
	it.Next() // start the pipeline before timing
	images, epoch := 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch, ok := it.Next()
		if !ok {
			if err := it.Err(); err != nil {
				b.Fatal(err)
			}
			epoch++
			it = l.Epoch(epoch)
			if batch, ok = it.Next(); !ok {
				b.Fatal(it.Err())
			}
		}
		images += batch.N
	}
	b.StopTimer()
	it.Close()
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}

var paperCIFARAug = Augment{PadCrop: 4, Flip: true, Cutout: 16}

// BenchmarkLoaderSynthetic: CIFAR-shaped synthetic data (its Example
// generates noise, costlier than reading bytes), batches of 128.
func BenchmarkLoaderSynthetic(b *testing.B) {
	ds := Synthetic(10000, Shape{3, 32, 32}, 10, 1)
	for _, workers := range workerCounts() {
		for _, aug := range []struct {
			name string
			a    Augment
		}{{"plain", Augment{}}, {"augment", paperCIFARAug}} {
			b.Run(fmt.Sprintf("%s/workers=%d", aug.name, workers), func(b *testing.B) {
				benchLoader(b, NewLoader(ds, LoaderConfig{BatchSize: 128, Shuffle: true, Augment: aug.a, Workers: workers, Prefetch: 4}))
			})
		}
	}
}

// BenchmarkLoaderCIFAR: 10,000 CIFAR-10 records read from the binary
// format, augmented as in the paper, batches of 128.
func BenchmarkLoaderCIFAR(b *testing.B) {
	dir := b.TempDir()
	writeCIFAR(b, dir, 2000, 10)
	train, _, _, err := CIFAR10(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range workerCounts() {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			benchLoader(b, NewLoader(train, LoaderConfig{BatchSize: 128, Shuffle: true, Augment: paperCIFARAug, Workers: workers, Prefetch: 4}))
		})
	}
}

// BenchmarkLoaderImageFolder: 500×375 JPEGs decoded, resized to 256 and
// randomly cropped to 224, batches of 32.
func BenchmarkLoaderImageFolder(b *testing.B) {
	dir := b.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 500, 375))
	for y := 0; y < 375; y++ {
		for x := 0; x < 500; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x*y/97 + x%13), 255})
		}
	}
	data := encodeJPEG(b, img)
	for i := 0; i < 64; i++ {
		writeFile(b, filepath.Join(dir, fmt.Sprintf("c%d", i%4), fmt.Sprintf("%d.jpg", i)), data)
	}
	ds, err := ImageFolder(dir, ResizeFor(224))
	if err != nil {
		b.Fatal(err)
	}
	for _, workers := range workerCounts() {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			benchLoader(b, NewLoader(ds, LoaderConfig{BatchSize: 32, Shuffle: true, Augment: Augment{Crop: 224, Flip: true}, Workers: workers}))
		})
	}
}

func workerCounts() []int {
	if n := runtime.GOMAXPROCS(0); n > 1 {
		return []int{1, n}
	}
	return []int{1}
}
