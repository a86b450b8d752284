//go:build amd64

#include "textflag.h"

// FOLD adds the lo- and hi-permuted pairs of a and b (index vectors in
// Z24 and Z25) into a; Z26 is scratch.
#define FOLD(a, b) \
	VMOVAPS a, Z26; \
	VPERMT2PS b, Z24, Z26; \
	VPERMT2PS b, Z25, a; \
	VADDPS Z26, a, a

// LOADFOLD loads level l's index vectors (idx[l], idx[4+l]) from AX.
#define LOADFOLD(l) \
	VMOVUPS (l*64)(AX), Z24; \
	VMOVUPS ((4+l)*64)(AX), Z25

// func Dots4x4(n int, py, px *[4]*float32, tail, relu, imgs, sy, sx int, idx *[8][16]uint32, out *[16]float32)
//
// Sixteen accumulators Z0-Z15 (Z(4i+j) for row i of py against row j of
// px); Z16-Z19 hold the four x vectors of a step, rectified against the
// zero in Z30 when relu is set, Z20-Z23 the four y vectors: eight loads
// per sixteen FMAs. The tail's lanes (bit l of tail: float n+l is read)
// are read with masked loads, which neither read nor fault past them.
// After each image the row pointers move on by sy (py) and sx (px)
// floats, imgs images in all, before the one fold. The fold takes the accumulators pairwise in order through two-source
// permutes (VPERMT2PS) and adds, 16 → 8 → 4 → 2 → 1.
TEXT ·Dots4x4(SB), NOSPLIT, $0-80
	MOVQ py+8(FP), AX
	MOVQ 0(AX), R8
	MOVQ 8(AX), R9
	MOVQ 16(AX), R10
	MOVQ 24(AX), R11
	MOVQ px+16(FP), AX
	MOVQ 0(AX), R12
	MOVQ 8(AX), R13
	MOVQ 16(AX), R14
	MOVQ 24(AX), R15
	MOVQ n+0(FP), CX
	SHLQ $2, CX
	MOVQ tail+24(FP), DX
	KMOVW DX, K1
	MOVQ relu+32(FP), BX
	MOVQ imgs+40(FP), SI
	MOVQ sy+48(FP), DI
	SHLQ $2, DI
	MOVQ sx+56(FP), AX
	SHLQ $2, AX
	VPXORD Z30, Z30, Z30
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15

img:
	XORQ DX, DX
	TESTQ BX, BX
	JNE reluloop

loop:
	CMPQ DX, CX
	JGE tail
	VMOVUPS (R12)(DX*1), Z16
	VMOVUPS (R13)(DX*1), Z17
	VMOVUPS (R14)(DX*1), Z18
	VMOVUPS (R15)(DX*1), Z19
	JMP fmas

reluloop:
	CMPQ DX, CX
	JGE tail
	VMOVUPS (R12)(DX*1), Z16
	VMOVUPS (R13)(DX*1), Z17
	VMOVUPS (R14)(DX*1), Z18
	VMOVUPS (R15)(DX*1), Z19
	VMAXPS Z16, Z30, Z16
	VMAXPS Z17, Z30, Z17
	VMAXPS Z18, Z30, Z18
	VMAXPS Z19, Z30, Z19

fmas:
	VMOVUPS (R8)(DX*1), Z20
	VMOVUPS (R9)(DX*1), Z21
	VMOVUPS (R10)(DX*1), Z22
	VMOVUPS (R11)(DX*1), Z23
	VFMADD231PS Z16, Z20, Z0
	VFMADD231PS Z17, Z20, Z1
	VFMADD231PS Z18, Z20, Z2
	VFMADD231PS Z19, Z20, Z3
	VFMADD231PS Z16, Z21, Z4
	VFMADD231PS Z17, Z21, Z5
	VFMADD231PS Z18, Z21, Z6
	VFMADD231PS Z19, Z21, Z7
	VFMADD231PS Z16, Z22, Z8
	VFMADD231PS Z17, Z22, Z9
	VFMADD231PS Z18, Z22, Z10
	VFMADD231PS Z19, Z22, Z11
	VFMADD231PS Z16, Z23, Z12
	VFMADD231PS Z17, Z23, Z13
	VFMADD231PS Z18, Z23, Z14
	VFMADD231PS Z19, Z23, Z15
	ADDQ $64, DX
	TESTQ BX, BX
	JNE reluloop
	JMP loop

tail:
	KORTESTW K1, K1
	JEQ nextimg
	VMOVUPS.Z (R12)(DX*1), K1, Z16
	VMOVUPS.Z (R13)(DX*1), K1, Z17
	VMOVUPS.Z (R14)(DX*1), K1, Z18
	VMOVUPS.Z (R15)(DX*1), K1, Z19
	VMAXPS Z16, Z30, Z16
	VMAXPS Z17, Z30, Z17
	VMAXPS Z18, Z30, Z18
	VMAXPS Z19, Z30, Z19
	TESTQ BX, BX
	JNE tailfmas
	// Without the ReLU, the x vectors are loaded again unrectified.
	VMOVUPS.Z (R12)(DX*1), K1, Z16
	VMOVUPS.Z (R13)(DX*1), K1, Z17
	VMOVUPS.Z (R14)(DX*1), K1, Z18
	VMOVUPS.Z (R15)(DX*1), K1, Z19

tailfmas:
	VMOVUPS.Z (R8)(DX*1), K1, Z20
	VMOVUPS.Z (R9)(DX*1), K1, Z21
	VMOVUPS.Z (R10)(DX*1), K1, Z22
	VMOVUPS.Z (R11)(DX*1), K1, Z23
	VFMADD231PS Z16, Z20, Z0
	VFMADD231PS Z17, Z20, Z1
	VFMADD231PS Z18, Z20, Z2
	VFMADD231PS Z19, Z20, Z3
	VFMADD231PS Z16, Z21, Z4
	VFMADD231PS Z17, Z21, Z5
	VFMADD231PS Z18, Z21, Z6
	VFMADD231PS Z19, Z21, Z7
	VFMADD231PS Z16, Z22, Z8
	VFMADD231PS Z17, Z22, Z9
	VFMADD231PS Z18, Z22, Z10
	VFMADD231PS Z19, Z22, Z11
	VFMADD231PS Z16, Z23, Z12
	VFMADD231PS Z17, Z23, Z13
	VFMADD231PS Z18, Z23, Z14
	VFMADD231PS Z19, Z23, Z15

nextimg:
	ADDQ DI, R8
	ADDQ DI, R9
	ADDQ DI, R10
	ADDQ DI, R11
	ADDQ AX, R12
	ADDQ AX, R13
	ADDQ AX, R14
	ADDQ AX, R15
	DECQ SI
	JNE img

	MOVQ idx+64(FP), AX
	LOADFOLD(0)
	FOLD(Z0, Z1)
	FOLD(Z2, Z3)
	FOLD(Z4, Z5)
	FOLD(Z6, Z7)
	FOLD(Z8, Z9)
	FOLD(Z10, Z11)
	FOLD(Z12, Z13)
	FOLD(Z14, Z15)
	LOADFOLD(1)
	FOLD(Z0, Z2)
	FOLD(Z4, Z6)
	FOLD(Z8, Z10)
	FOLD(Z12, Z14)
	LOADFOLD(2)
	FOLD(Z0, Z4)
	FOLD(Z8, Z12)
	LOADFOLD(3)
	FOLD(Z0, Z8)
	MOVQ out+72(FP), AX
	VMOVUPS Z0, (AX)
	VZEROUPPER
	RET
