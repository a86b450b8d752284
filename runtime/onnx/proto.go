package onnx

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// The ONNX messages cellc writes, each with the fields it uses and an
// encoder. Field numbers are onnx.proto's; fields are written in number
// order and repeated scalars unpacked, as protoc's generated code writes
// proto2 fields without [packed = true], so the bytes match what the
// onnx Python package would write for the same model.

// Data types (TensorProto.DataType) and attribute types
// (AttributeProto.AttributeType) used here.
const (
	typeFloat = 1
	typeInt64 = 7

	attrFloat  = 1
	attrInt    = 2
	attrTensor = 4
	attrInts   = 7
)

type modelProto struct {
	irVersion       int64
	producerName    string
	producerVersion string
	docString       string
	graph           graphProto
	opset           int64 // the default domain's version
	metadata        [][2]string
}

func (m *modelProto) encode() []byte {
	var b []byte
	b = appendVarint(b, 1, uint64(m.irVersion))
	b = appendString(b, 2, m.producerName)
	b = appendString(b, 3, m.producerVersion)
	b = appendString(b, 6, m.docString)
	b = appendMessage(b, 7, m.graph.encode())
	var op []byte
	op = appendString(op, 1, "")
	op = appendVarint(op, 2, uint64(m.opset))
	b = appendMessage(b, 8, op)
	for _, kv := range m.metadata {
		var e []byte
		e = appendString(e, 1, kv[0])
		e = appendString(e, 2, kv[1])
		b = appendMessage(b, 14, e)
	}
	return b
}

type graphProto struct {
	nodes       []nodeProto
	name        string
	initializer []tensorProto
	docString   string
	input       []valueInfoProto
	output      []valueInfoProto
	valueInfo   []valueInfoProto
}

func (g *graphProto) encode() []byte {
	var b []byte
	for i := range g.nodes {
		b = appendMessage(b, 1, g.nodes[i].encode())
	}
	b = appendString(b, 2, g.name)
	for i := range g.initializer {
		b = appendMessage(b, 5, g.initializer[i].encode())
	}
	b = appendString(b, 10, g.docString)
	for _, v := range g.input {
		b = appendMessage(b, 11, v.encode())
	}
	for _, v := range g.output {
		b = appendMessage(b, 12, v.encode())
	}
	for _, v := range g.valueInfo {
		b = appendMessage(b, 13, v.encode())
	}
	return b
}

type nodeProto struct {
	input, output []string
	name, opType  string
	attribute     []attributeProto
}

func (n *nodeProto) encode() []byte {
	var b []byte
	for _, s := range n.input {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	for _, s := range n.output {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	b = appendString(b, 3, n.name)
	b = appendString(b, 4, n.opType)
	for i := range n.attribute {
		b = appendMessage(b, 5, n.attribute[i].encode())
	}
	return b
}

// attributeProto holds one of f, i, t or ints, as typ says.
type attributeProto struct {
	name string
	typ  int32
	f    float32
	i    int64
	t    *tensorProto
	ints []int64
}

func (a *attributeProto) encode() []byte {
	var b []byte
	b = appendString(b, 1, a.name)
	switch a.typ {
	case attrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case attrInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.i))
	case attrTensor:
		b = appendMessage(b, 5, a.t.encode())
	case attrInts:
		for _, v := range a.ints {
			b = protowire.AppendTag(b, 8, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		}
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(a.typ))
}

// tensorProto is a float32 or int64 tensor stored as raw little-endian
// bytes (raw_data), the compact form every reader accepts.
type tensorProto struct {
	dims     []int64
	dataType int32
	name     string
	raw      []byte
}

func (t *tensorProto) encode() []byte {
	var b []byte
	for _, d := range t.dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.dataType))
	b = appendString(b, 8, t.name)
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	return protowire.AppendBytes(b, t.raw)
}

func floatTensor(name string, dims []int64, v []float32) tensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return tensorProto{dims: dims, dataType: typeFloat, name: name, raw: raw}
}

func int64Tensor(name string, dims []int64, v []int64) tensorProto {
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
	}
	return tensorProto{dims: dims, dataType: typeInt64, name: name, raw: raw}
}

// dim is one dimension of a value's shape: a size, or a symbolic name
// (the batch) when param is set.
type dim struct {
	value int64
	param string
}

// valueInfoProto is a named float32 tensor value with its shape.
type valueInfoProto struct {
	name string
	dims []dim
}

func (v valueInfoProto) encode() []byte {
	var shape []byte
	for _, d := range v.dims {
		var e []byte
		if d.param != "" {
			e = appendString(e, 2, d.param)
		} else {
			e = protowire.AppendTag(e, 1, protowire.VarintType)
			e = protowire.AppendVarint(e, uint64(d.value))
		}
		shape = appendMessage(shape, 1, e)
	}
	var tensor []byte
	tensor = appendVarint(tensor, 1, typeFloat)
	tensor = appendMessage(tensor, 2, shape)
	var typ []byte
	typ = appendMessage(typ, 1, tensor)
	var b []byte
	b = appendString(b, 1, v.name)
	return appendMessage(b, 2, typ)
}

// appendString writes a string field, leaving out an empty one as an
// unset optional field.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}
