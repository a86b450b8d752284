//go:build amd64

#include "textflag.h"

// func Kernel8x32(k int, a, b *float32, ldb, sb int, c *float32, ldc int, bias, mask *float32, ldm, mr, cols, flags int, pk *float32)
//
// Sixteen accumulators (Z0-Z15, row r in Z2r and Z2r+1) hold the 8×32
// tile; Z16, Z17 hold the two halves of a row of b, and Z18, Z19
// alternate as the broadcast a values. Eight rows by two vectors is the
// widest tile that leaves each a broadcast read twice and each b row
// eight times (ten loads per sixteen FMAs), and eight rows divide every
// channel count of a NASNet, where six wasted a sixth of the 32-channel
// products. The columns past cols (bit j of cols: column j is stored) are
// masked out of every load of b and mask and every load and store of c,
// so the last, partial strips need no copies, and b read in place may end
// anywhere in its last row; when the second half has no column at all it
// is not read (it may not exist). With the ReLU flag, each row of b is
// rectified as it is loaded (two VMAXPS per sixteen FMAs, where packing b
// rectified would cost a pass over it). With the pack flag each row of b
// is also stored, as loaded, 32 floats a row at pk (AX): the next panels
// of a B read in place then read it from there (see tileInPlace512).
TEXT ·Kernel8x32(SB), NOSPLIT, $0-112
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R15
	SHLQ $2, R15
	MOVQ sb+32(FP), R8
	SHLQ $2, R8
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R9
	SHLQ $2, R9
	MOVQ bias+56(FP), R10
	MOVQ mask+64(FP), R13
	MOVQ ldm+72(FP), R14
	SHLQ $2, R14
	MOVQ mr+80(FP), R11
	MOVQ cols+88(FP), BX
	MOVQ flags+96(FP), R12
	KMOVW BX, K1
	SHRQ $16, BX
	KMOVW BX, K2
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
	// Z29 is the floor of b's values: 0 with the ReLU flag, else -inf
	// (VMAXPS then passes every value, NaNs included, as loaded).
	VPXORD Z29, Z29, Z29
	TESTQ $2, R12
	JNE floorset
	MOVL $0xff800000, AX
	VPBROADCASTD AX, Z29
floorset:
	MOVQ pk+104(FP), AX
	TESTQ CX, CX
	JEQ epilogue
	TESTQ BX, BX
	JEQ loop16
	TESTQ $4, R12
	JNE loop32pack
	TESTQ $2, R12
	JNE loop32relu
loop32:
	VMOVUPS.Z (DI), K1, Z16
	VMOVUPS.Z (DI)(R8*1), K2, Z17
	VBROADCASTSS 0(SI), Z18
	VFMADD231PS Z16, Z18, Z0
	VFMADD231PS Z17, Z18, Z1
	VBROADCASTSS 4(SI), Z19
	VFMADD231PS Z16, Z19, Z2
	VFMADD231PS Z17, Z19, Z3
	VBROADCASTSS 8(SI), Z18
	VFMADD231PS Z16, Z18, Z4
	VFMADD231PS Z17, Z18, Z5
	VBROADCASTSS 12(SI), Z19
	VFMADD231PS Z16, Z19, Z6
	VFMADD231PS Z17, Z19, Z7
	VBROADCASTSS 16(SI), Z18
	VFMADD231PS Z16, Z18, Z8
	VFMADD231PS Z17, Z18, Z9
	VBROADCASTSS 20(SI), Z19
	VFMADD231PS Z16, Z19, Z10
	VFMADD231PS Z17, Z19, Z11
	VBROADCASTSS 24(SI), Z18
	VFMADD231PS Z16, Z18, Z12
	VFMADD231PS Z17, Z18, Z13
	VBROADCASTSS 28(SI), Z19
	VFMADD231PS Z16, Z19, Z14
	VFMADD231PS Z17, Z19, Z15
	ADDQ $32, SI
	ADDQ R15, DI
	DECQ CX
	JNZ loop32
	JMP epilogue
loop32relu:
	VMOVUPS.Z (DI), K1, Z16
	VMOVUPS.Z (DI)(R8*1), K2, Z17
	VMAXPS Z16, Z30, Z16
	VMAXPS Z17, Z30, Z17
	VBROADCASTSS 0(SI), Z18
	VFMADD231PS Z16, Z18, Z0
	VFMADD231PS Z17, Z18, Z1
	VBROADCASTSS 4(SI), Z19
	VFMADD231PS Z16, Z19, Z2
	VFMADD231PS Z17, Z19, Z3
	VBROADCASTSS 8(SI), Z18
	VFMADD231PS Z16, Z18, Z4
	VFMADD231PS Z17, Z18, Z5
	VBROADCASTSS 12(SI), Z19
	VFMADD231PS Z16, Z19, Z6
	VFMADD231PS Z17, Z19, Z7
	VBROADCASTSS 16(SI), Z18
	VFMADD231PS Z16, Z18, Z8
	VFMADD231PS Z17, Z18, Z9
	VBROADCASTSS 20(SI), Z19
	VFMADD231PS Z16, Z19, Z10
	VFMADD231PS Z17, Z19, Z11
	VBROADCASTSS 24(SI), Z18
	VFMADD231PS Z16, Z18, Z12
	VFMADD231PS Z17, Z18, Z13
	VBROADCASTSS 28(SI), Z19
	VFMADD231PS Z16, Z19, Z14
	VFMADD231PS Z17, Z19, Z15
	ADDQ $32, SI
	ADDQ R15, DI
	DECQ CX
	JNZ loop32relu
	JMP epilogue
loop32pack:
	// B read in place is rows a page or more apart, which the hardware
	// prefetchers do not follow: fetch the row eight ahead.
	PREFETCHT0 (DI)(R15*8)
	PREFETCHT0 64(DI)(R15*8)
	VMOVUPS.Z (DI), K1, Z16
	VMOVUPS.Z (DI)(R8*1), K2, Z17
	VMAXPS Z16, Z29, Z16
	VMAXPS Z17, Z29, Z17
	VMOVUPS Z16, (AX)
	VMOVUPS Z17, 64(AX)
	VBROADCASTSS 0(SI), Z18
	VFMADD231PS Z16, Z18, Z0
	VFMADD231PS Z17, Z18, Z1
	VBROADCASTSS 4(SI), Z19
	VFMADD231PS Z16, Z19, Z2
	VFMADD231PS Z17, Z19, Z3
	VBROADCASTSS 8(SI), Z18
	VFMADD231PS Z16, Z18, Z4
	VFMADD231PS Z17, Z18, Z5
	VBROADCASTSS 12(SI), Z19
	VFMADD231PS Z16, Z19, Z6
	VFMADD231PS Z17, Z19, Z7
	VBROADCASTSS 16(SI), Z18
	VFMADD231PS Z16, Z18, Z8
	VFMADD231PS Z17, Z18, Z9
	VBROADCASTSS 20(SI), Z19
	VFMADD231PS Z16, Z19, Z10
	VFMADD231PS Z17, Z19, Z11
	VBROADCASTSS 24(SI), Z18
	VFMADD231PS Z16, Z18, Z12
	VFMADD231PS Z17, Z18, Z13
	VBROADCASTSS 28(SI), Z19
	VFMADD231PS Z16, Z19, Z14
	VFMADD231PS Z17, Z19, Z15
	ADDQ $32, SI
	ADDQ R15, DI
	ADDQ $128, AX
	DECQ CX
	JNZ loop32pack
	JMP epilogue
loop16:
	// One half only: eight accumulators, the even ones.
	VMOVUPS.Z (DI), K1, Z16
	VMAXPS Z16, Z29, Z16
	TESTQ $4, R12
	JEQ fma16
	VMOVUPS Z16, (AX)
	ADDQ $128, AX
fma16:
	VFMADD231PS.BCST 0(SI), Z16, Z0
	VFMADD231PS.BCST 4(SI), Z16, Z2
	VFMADD231PS.BCST 8(SI), Z16, Z4
	VFMADD231PS.BCST 12(SI), Z16, Z6
	VFMADD231PS.BCST 16(SI), Z16, Z8
	VFMADD231PS.BCST 20(SI), Z16, Z10
	VFMADD231PS.BCST 24(SI), Z16, Z12
	VFMADD231PS.BCST 28(SI), Z16, Z14
	ADDQ $32, SI
	ADDQ R15, DI
	DECQ CX
	JNZ loop16
epilogue:
	// A whole panel without a mask (every forward product's but the
	// last rows'): each step for all eight rows at once, where the row
	// loop below moves fourteen registers a row.
	CMPQ R11, $8
	JNE rows
	TESTQ R13, R13
	JNE rows
	TESTQ R10, R10
	JEQ fullnobias
	VADDPS.BCST 0(R10), Z0, Z0
	VADDPS.BCST 0(R10), Z1, Z1
	VADDPS.BCST 4(R10), Z2, Z2
	VADDPS.BCST 4(R10), Z3, Z3
	VADDPS.BCST 8(R10), Z4, Z4
	VADDPS.BCST 8(R10), Z5, Z5
	VADDPS.BCST 12(R10), Z6, Z6
	VADDPS.BCST 12(R10), Z7, Z7
	VADDPS.BCST 16(R10), Z8, Z8
	VADDPS.BCST 16(R10), Z9, Z9
	VADDPS.BCST 20(R10), Z10, Z10
	VADDPS.BCST 20(R10), Z11, Z11
	VADDPS.BCST 24(R10), Z12, Z12
	VADDPS.BCST 24(R10), Z13, Z13
	VADDPS.BCST 28(R10), Z14, Z14
	VADDPS.BCST 28(R10), Z15, Z15
fullnobias:
	TESTQ $1, R12
	JEQ fullstore
	MOVQ DX, AX
	VADDPS (AX), Z0, K1, Z0
	VADDPS 64(AX), Z1, K2, Z1
	ADDQ R9, AX
	VADDPS (AX), Z2, K1, Z2
	VADDPS 64(AX), Z3, K2, Z3
	ADDQ R9, AX
	VADDPS (AX), Z4, K1, Z4
	VADDPS 64(AX), Z5, K2, Z5
	ADDQ R9, AX
	VADDPS (AX), Z6, K1, Z6
	VADDPS 64(AX), Z7, K2, Z7
	ADDQ R9, AX
	VADDPS (AX), Z8, K1, Z8
	VADDPS 64(AX), Z9, K2, Z9
	ADDQ R9, AX
	VADDPS (AX), Z10, K1, Z10
	VADDPS 64(AX), Z11, K2, Z11
	ADDQ R9, AX
	VADDPS (AX), Z12, K1, Z12
	VADDPS 64(AX), Z13, K2, Z13
	ADDQ R9, AX
	VADDPS (AX), Z14, K1, Z14
	VADDPS 64(AX), Z15, K2, Z15
fullstore:
	VMOVUPS Z0, K1, (DX)
	VMOVUPS Z1, K2, 64(DX)
	ADDQ R9, DX
	VMOVUPS Z2, K1, (DX)
	VMOVUPS Z3, K2, 64(DX)
	ADDQ R9, DX
	VMOVUPS Z4, K1, (DX)
	VMOVUPS Z5, K2, 64(DX)
	ADDQ R9, DX
	VMOVUPS Z6, K1, (DX)
	VMOVUPS Z7, K2, 64(DX)
	ADDQ R9, DX
	VMOVUPS Z8, K1, (DX)
	VMOVUPS Z9, K2, 64(DX)
	ADDQ R9, DX
	VMOVUPS Z10, K1, (DX)
	VMOVUPS Z11, K2, 64(DX)
	ADDQ R9, DX
	VMOVUPS Z12, K1, (DX)
	VMOVUPS Z13, K2, 64(DX)
	ADDQ R9, DX
	VMOVUPS Z14, K1, (DX)
	VMOVUPS Z15, K2, 64(DX)
	VZEROUPPER
	RET
rows:
	// Row by row up to mr, each row moved into Z0, Z1 in turn: add the
	// bias, zero where the mask is not positive, add the old tile when
	// accumulating, store the columns in cols.
	VPXORD Z31, Z31, Z31
row:
	TESTQ R10, R10
	JEQ nobias
	VADDPS.BCST (R10), Z0, Z0
	VADDPS.BCST (R10), Z1, Z1
	ADDQ $4, R10
nobias:
	TESTQ R13, R13
	JEQ nomask
	VCMPPS $1, (R13), Z31, K1, K3 // 0 < mask, in cols only
	VCMPPS $1, 64(R13), Z31, K2, K4
	VMOVUPS.Z Z0, K3, Z0
	VMOVUPS.Z Z1, K4, Z1
	ADDQ R14, R13
nomask:
	TESTQ $1, R12
	JEQ store
	VADDPS (DX), Z0, K1, Z0
	VADDPS 64(DX), Z1, K2, Z1
store:
	VMOVUPS Z0, K1, (DX)
	VMOVUPS Z1, K2, 64(DX)
	ADDQ R9, DX
	DECQ R11
	JEQ done
	VMOVAPS Z2, Z0
	VMOVAPS Z3, Z1
	VMOVAPS Z4, Z2
	VMOVAPS Z5, Z3
	VMOVAPS Z6, Z4
	VMOVAPS Z7, Z5
	VMOVAPS Z8, Z6
	VMOVAPS Z9, Z7
	VMOVAPS Z10, Z8
	VMOVAPS Z11, Z9
	VMOVAPS Z12, Z10
	VMOVAPS Z13, Z11
	VMOVAPS Z14, Z12
	VMOVAPS Z15, Z13
	JMP row
done:
	VZEROUPPER
	RET
