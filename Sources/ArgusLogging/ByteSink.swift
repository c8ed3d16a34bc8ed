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
