package data

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers JPEG with image.Decode
	_ "image/png"  // registers PNG with image.Decode
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ImageNetNorm is the usual ImageNet RGB normalisation, which ImageFolder
// applies.
var ImageNetNorm = Norm{Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}

// maxPixels bounds the images ImageFolder decodes (checked from the header
// before decoding).
const maxPixels = 1 << 26

// ResizeFor returns the side to open an ImageFolder at so that random
// crops of side crop can be taken from it: crop*8/7 rounded, the usual
// 256 for 224 (about 1.14×).
func ResizeFor(crop int) int { return (crop*8 + 3) / 7 }

// ImageFolder reads an ImageNet-style folder: one subfolder per class, the
// sorted subfolder names being the class names and their positions the
// labels, holding JPEG and PNG files (found by their .jpg, .jpeg or .png
// suffix, in any case, in the subfolder or below it; other files and names
// starting with a dot are skipped). Files are decoded by Example, on
// demand, so a bad file is reported when it is first read, by an error
// naming it.
//
// Example resizes an image so that its shorter side is size (a separable
// antialiased bilinear filter) and cuts out the central size×size square,
// giving 3×size×size RGB (grey images are repeated over the three
// channels, alpha is dropped), normalised with ImageNetNorm.
//
// Random crops are the Loader's job, so for training open the folder a
// little larger than the network's input and let the augmentation crop:
// ImageFolder(dir, ResizeFor(224)) with Augment{Crop: 224, Flip: true}
// trains on random 224×224 crops of 256×256 images; evaluate with
// CenterCrop(ImageFolder(valDir, 256), 224), the standard
// resize-256-center-crop-224 protocol.
func ImageFolder(dir string, size int) (Dataset, error) {
	if size <= 0 {
		return nil, fmt.Errorf("data: ImageFolder %s: size %d must be positive", dir, size)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, &FileError{Path: dir, Err: unwrapPath(err)}
	}
	f := &folder{dir: dir, size: size, norm: Norm{
		Mean: append([]float32(nil), ImageNetNorm.Mean...),
		Std:  append([]float32(nil), ImageNetNorm.Std...),
	}}
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			f.names = append(f.names, e.Name())
		}
	}
	sort.Strings(f.names)
	if len(f.names) == 0 {
		return nil, fileErr(dir, "no class subfolders")
	}
	for label, name := range f.names {
		classDir := filepath.Join(dir, name)
		before := len(f.files)
		err := filepath.WalkDir(classDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return &FileError{Path: path, Err: unwrapPath(err)}
			}
			if strings.HasPrefix(d.Name(), ".") && path != classDir {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || !isImageName(d.Name()) {
				return nil
			}
			f.files = append(f.files, path)
			f.labels = append(f.labels, int32(label))
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(f.files) == before {
			return nil, fileErr(classDir, "class folder has no .jpg, .jpeg or .png files")
		}
	}
	return f, nil
}

func isImageName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

type folder struct {
	dir    string
	size   int
	names  []string
	files  []string
	labels []int32
	norm   Norm
}

func (f *folder) Len() int             { return len(f.files) }
func (f *folder) Shape() Shape         { return Shape{3, f.size, f.size} }
func (f *folder) Classes() int         { return len(f.names) }
func (f *folder) ClassNames() []string { return append([]string(nil), f.names...) }

func (f *folder) Norm() Norm {
	return Norm{Mean: append([]float32(nil), f.norm.Mean...), Std: append([]float32(nil), f.norm.Std...)}
}

func (f *folder) Example(i int, dst []float32) (int, error) {
	if err := checkExample(f, i, dst); err != nil {
		return 0, err
	}
	img, err := decodeFile(f.files[i])
	if err != nil {
		return 0, err
	}
	planes, side := centerSquare(img)
	out := resample(planes, side, f.size)
	for c := 0; c < 3; c++ {
		m, s := f.norm.Mean[c], f.norm.Std[c]
		d := dst[c*f.size*f.size : (c+1)*f.size*f.size]
		for j, v := range out[c*f.size*f.size : (c+1)*f.size*f.size] {
			d[j] = (v - m) / s
		}
	}
	return int(f.labels[i]), nil
}

func decodeFile(path string) (image.Image, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: unwrapPath(err)}
	}
	defer fh.Close()
	cfg, format, err := image.DecodeConfig(bufio.NewReader(fh))
	if err != nil {
		return nil, fileErr(path, "bad image: %v", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, fileErr(path, "bad image: %s of %dx%d pixels", format, cfg.Width, cfg.Height)
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	img, _, err := image.Decode(bufio.NewReader(fh))
	if err != nil {
		return nil, fileErr(path, "bad %s image: %v", format, err)
	}
	return img, nil
}

// centerSquare returns the central square of img as three planes of
// values in [0, 1], and its side.
func centerSquare(img image.Image) ([]float32, int) {
	b := img.Bounds()
	side := min(b.Dx(), b.Dy())
	x0 := b.Min.X + (b.Dx()-side)/2
	y0 := b.Min.Y + (b.Dy()-side)/2
	n := side * side
	p := make([]float32, 3*n)
	r, g, bl := p[:n], p[n:2*n], p[2*n:]
	const k = 1.0 / 255
	switch m := img.(type) {
	case *image.YCbCr:
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				yi := m.YOffset(x0+x, y0+y)
				ci := m.COffset(x0+x, y0+y)
				cr, cg, cb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				j := y*side + x
				r[j], g[j], bl[j] = float32(cr)*k, float32(cg)*k, float32(cb)*k
			}
		}
	case *image.Gray:
		for y := 0; y < side; y++ {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := 0; x < side; x++ {
				j := y*side + x
				v := float32(row[x]) * k
				r[j], g[j], bl[j] = v, v, v
			}
		}
	case *image.RGBA:
		for y := 0; y < side; y++ {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := 0; x < side; x++ {
				j := y*side + x
				r[j], g[j], bl[j] = float32(row[4*x])*k, float32(row[4*x+1])*k, float32(row[4*x+2])*k
			}
		}
	case *image.NRGBA:
		for y := 0; y < side; y++ {
			row := m.Pix[m.PixOffset(x0, y0+y):]
			for x := 0; x < side; x++ {
				j := y*side + x
				r[j], g[j], bl[j] = float32(row[4*x])*k, float32(row[4*x+1])*k, float32(row[4*x+2])*k
			}
		}
	default:
		const k16 = 1.0 / 65535
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				cr, cg, cb, _ := img.At(x0+x, y0+y).RGBA()
				j := y*side + x
				r[j], g[j], bl[j] = float32(cr)*k16, float32(cg)*k16, float32(cb)*k16
			}
		}
	}
	return p, side
}

// resample resizes three side×side planes to size×size with a separable
// triangle filter widened by the scale when shrinking (antialiased
// bilinear, as PIL's resize does).
func resample(planes []float32, side, size int) []float32 {
	if side == size {
		return planes
	}
	taps := filterTaps(side, size)
	tmp := make([]float32, 3*side*size) // rows resized: c, y (side), x (size)
	for c := 0; c < 3; c++ {
		for y := 0; y < side; y++ {
			src := planes[(c*side+y)*side : (c*side+y+1)*side]
			dst := tmp[(c*side+y)*size : (c*side+y+1)*size]
			for x, tp := range taps {
				s := src[tp.start : tp.start+len(tp.w)]
				var acc float32
				for t, wt := range tp.w {
					acc += wt * s[t]
				}
				dst[x] = acc
			}
		}
	}
	out := make([]float32, 3*size*size)
	for c := 0; c < 3; c++ {
		for y, tp := range taps {
			dst := out[(c*size+y)*size : (c*size+y+1)*size]
			for t, wt := range tp.w {
				row := c*side + tp.start + t
				src := tmp[row*size : (row+1)*size]
				for x, v := range src {
					dst[x] += wt * v
				}
			}
		}
	}
	return out
}

// tap is one output's filter: weights for inputs start, start+1, ….
type tap struct {
	start int
	w     []float32
}

// filterTaps returns the filter of each of m outputs from n inputs: a
// triangle of half-width max(n/m, 1) input pixels centred on the output
// pixel's centre, its nonzero weights summing to 1.
func filterTaps(n, m int) []tap {
	scale := float64(n) / float64(m)
	support := math.Max(scale, 1)
	taps := make([]tap, m)
	buf := make([]float32, 0, m*(int(2*support)+2)) // backs every tap's weights
	for i := range taps {
		center := (float64(i) + 0.5) * scale
		lo := max(int(math.Floor(center-support)), 0)
		hi := min(int(math.Ceil(center+support)), n)
		w := buf[len(buf):len(buf)]
		sum := 0.0
		for j := lo; j < hi; j++ {
			v := 1 - math.Abs((float64(j)+0.5-center)/support)
			if v <= 0 {
				if len(w) == 0 {
					lo = j + 1 // trim leading zeros
					continue
				}
				break
			}
			w = append(w, float32(v))
			sum += v
		}
		if len(w) == 0 { // cannot happen with support >= 1; keep the nearest input
			lo, w, sum = min(max(int(center), 0), n-1), []float32{1}, 1
		}
		for j := range w {
			w[j] = float32(float64(w[j]) / sum)
		}
		taps[i] = tap{start: lo, w: w}
		buf = buf[:len(buf)+len(w)]
	}
	return taps
}
