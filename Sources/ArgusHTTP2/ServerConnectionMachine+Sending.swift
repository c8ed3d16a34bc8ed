import NIOCore
import NIOHPACK
import NIOHTTP2

/// What the gateway sends on the client's streams, within the client's flow-control windows: DATA
/// beyond them waits in its stream (with anything sent after it), and goes out as WINDOW_UPDATE
/// frames or a larger SETTINGS_INITIAL_WINDOW_SIZE open the windows (RFC 9113 §6.9).
extension ServerConnectionMachine {
    /// The response head (or trailers, or an interim head) of a stream.
    public mutating func sendHeaders(stream id: Int, _ headers: HPACKHeaders, endStream: Bool) {
        var block = ByteBuffer()
        HeaderBlockEncoder.encode(headers, into: &block)
        sendHeaderBlock(stream: id, block, endStream: endStream)
    }

    /// A header block HPACK-encoded already (by ``HeaderBlockEncoder``: no dynamic table).
    public mutating func sendHeaderBlock(stream id: Int, _ block: ByteBuffer, endStream: Bool) {
        guard let state = streams[id], !state.localEnded else { return }
        if state.pending.isEmpty {
            writeHeaders(stream: id, block, endStream: endStream)
            if endStream { localEnded(state) }
        } else {
            state.pending.append(.headers(block, endStream: endStream))
        }
    }

    /// Response body bytes of a stream: written now as far as the windows let them (nothing
    /// queued on the way, as a response usually fits), the rest waits in the stream.
    public mutating func sendData(stream id: Int, _ data: ByteBuffer, endStream: Bool) {
        guard let state = streams[id], !state.localEnded else { return }
        var data = data
        if state.pending.isEmpty {
            _ = writeData(state, &data, endStream: endStream)
            if data.readableBytes == 0 {
                if endStream { localEnded(state) }
                return
            }
        }
        state.pending.append(.data(data, endStream: endStream))
        state.pendingBytes += data.readableBytes
        pendingTotal += data.readableBytes
    }

    /// Resets a stream (RST_STREAM); a NO_ERROR reset after a whole response is sent once the
    /// response is out (§8.1: the client stops sending a body not needed).
    public mutating func sendReset(stream id: Int, code: HTTP2ErrorCode) {
        guard let state = streams[id] else { return }
        let code = UInt32(code.networkCode)
        if code == ErrorCodes.noError && !state.pending.isEmpty {
            state.resetAfterPending = code
            return
        }
        pendingTotal -= state.dropPending()
        streams[id] = nil
        noteReset(id)
        output.rstStream(stream: id, code: code)
    }

    /// Gives the client `increment` more bytes of a stream's window (its body was read).
    public mutating func creditStream(_ id: Int, _ increment: Int) {
        guard let state = streams[id], !state.remoteEnded, increment > 0 else { return }
        state.receiveWindow += increment
        output.windowUpdate(stream: id, increment: increment)
    }

    /// GOAWAY NO_ERROR: no new stream is taken; the open ones finish.
    public mutating func goAway() {
        guard !goAwaySent else { return }
        goAwaySent = true
        goAwayLastStream = highestStream
        output.goAway(lastStream: highestStream, code: ErrorCodes.noError)
    }

    /// Response bytes of a stream waiting for window.
    public func pendingBytes(stream id: Int) -> Int {
        streams[id]?.pendingBytes ?? 0
    }

    // MARK: - Inside

    /// Sends what `state` has waiting, as far as the windows let it; true if anything went out.
    mutating func sendPending(_ state: ServerStreamState) -> Bool {
        var sent = false
        while let next = state.pending.first {
            switch next {
            case .headers(let block, let endStream):
                writeHeaders(stream: state.id, block, endStream: endStream)
                state.pending.removeFirst()
                sent = true
                if endStream { state.localEnded = true }
            case .data(var data, let endStream):
                let waiting = data.readableBytes
                if writeData(state, &data, endStream: endStream) { sent = true }
                state.pendingBytes -= waiting - data.readableBytes
                pendingTotal -= waiting - data.readableBytes
                guard data.readableBytes == 0 else {
                    state.pending[0] = .data(data, endStream: endStream)
                    return sent
                }
                state.pending.removeFirst()
                if endStream { state.localEnded = true }
            }
        }
        if let code = state.resetAfterPending {
            streams[state.id] = nil
            noteReset(state.id)
            output.rstStream(stream: state.id, code: code)
        } else if state.localEnded {
            localEnded(state)
        }
        return sent
    }

    /// Writes as much of `data` as the stream's and the connection's windows let through, in
    /// frames of the peer's size (an empty end of stream always goes); true if anything was written.
    private mutating func writeData(_ state: ServerStreamState, _ data: inout ByteBuffer, endStream: Bool) -> Bool {
        if data.readableBytes == 0 {
            output.data(stream: state.id, data, endStream: endStream)
            return true
        }
        var wrote = false
        while data.readableBytes > 0 {
            let room = min(state.sendWindow, connectionSendWindow, peerMaxFrameSize)
            guard room > 0 else { break }
            let piece = data.readSlice(length: min(room, data.readableBytes))!
            output.data(stream: state.id, piece, endStream: endStream && data.readableBytes == 0)
            state.sendWindow -= piece.readableBytes
            connectionSendWindow -= piece.readableBytes
            wrote = true
        }
        return wrote
    }

    /// The connection window (or every stream's) opened: the streams that waited send, oldest first.
    mutating func sendWaiting(events: inout [Event]) {
        var sent = false
        for state in streams.values.filter({ !$0.pending.isEmpty }).sorted(by: { $0.id < $1.id }) {
            if sendPending(state) { sent = true }
        }
        if sent { events.append(.windowOpened) }
    }

    /// A header block into the output, after the table size update the client's settings asked for.
    private mutating func writeHeaders(stream id: Int, _ block: ByteBuffer, endStream: Bool) {
        var block = block
        if tableSizeUpdatePending {
            tableSizeUpdatePending = false
            var updated = ByteBuffer()
            updated.reserveCapacity(block.readableBytes + 1)
            updated.writeInteger(UInt8(0x20))  // dynamic table size update: 0
            updated.writeBuffer(&block)
            block = updated
        }
        output.headers(stream: id, block: block, endStream: endStream, maxFrameSize: peerMaxFrameSize)
    }

    private mutating func localEnded(_ state: ServerStreamState) {
        state.localEnded = true
        if state.isDone { streams[state.id] = nil }
    }
}
