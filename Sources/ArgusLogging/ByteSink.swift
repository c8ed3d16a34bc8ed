/// A growable byte buffer for building output fast: appends are a bounds check and a store (no
/// copy-on-write uniqueness check per byte, as `[UInt8].append` has). Owned by one writer.
struct ByteSink: ~Copyable {
    private var base: UnsafeMutableRawPointer
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(byteCount: self.capacity, alignment: 1)
    }

    deinit { base.deallocate() }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(1) }
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always)
    mutating func append(_ raw: UnsafeRawBufferPointer) {
        guard let source = raw.baseAddress, raw.count > 0 else { return }
        if count + raw.count > capacity { grow(raw.count) }
        (base + count).copyMemory(from: source, byteCount: raw.count)
        count += raw.count
    }

    /// Appends ASCII bytes with `A`–`Z` lower-cased, a word at a time (every byte must be < 0x80).
    mutating func appendLowercasingASCII(_ raw: UnsafeRawBufferPointer) {
        guard let source = raw.baseAddress, raw.count > 0 else { return }
        if count + raw.count > capacity { grow(raw.count) }
        let target = base + count
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var i = 0
        while i + 8 <= raw.count {
            let word = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            // Bytes are < 0x80, so these sums never carry into the next byte: the high bit says
            // "≥ 'A'" and "≥ '['"; upper case is the first without the second.
            let atLeastA = word &+ ones &* (0x80 - 0x41)
            let atLeastBracket = word &+ ones &* (0x80 - 0x5B)
            let upper = atLeastA & ~atLeastBracket & highs
            target.storeBytes(of: word | (upper >> 2), toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < raw.count {
            let b = source.load(fromByteOffset: i, as: UInt8.self)
            target.storeBytes(of: b &- 65 < 26 ? b | 0x20 : b, toByteOffset: i, as: UInt8.self)
            i += 1
        }
        count += raw.count
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { append(UnsafeRawBufferPointer($0)) }
    }

    subscript(i: Int) -> UInt8 {
        get { base.load(fromByteOffset: i, as: UInt8.self) }
        set { base.storeBytes(of: newValue, toByteOffset: i, as: UInt8.self) }
    }

    /// Forgets what was written, keeping the memory.
    mutating func removeAll() { count = 0 }

    /// The bytes written so far, valid until the next write.
    var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// The bytes written so far.
    var array: [UInt8] { [UInt8](UnsafeRawBufferPointer(start: base, count: count)) }

    private mutating func grow(_ extra: Int) {
        var newCapacity = capacity * 2
        while newCapacity < count + extra { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 1)
        grown.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }
}
