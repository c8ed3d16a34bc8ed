import NIOCore
import NIOHPACK
import NIOHTTP2

/// The frames a client sends, one handler each (RFC 9113 §6).
extension ServerConnectionMachine {
    mutating func handle(type: UInt8, flags: UInt8, stream: Int, payload: ByteBuffer, events: inout [Event]) {
        if let block = headerBlock, type != FrameType.continuation || stream != block.stream {
            // A header block is one unit: nothing may come between its frames (§6.10).
            return connectionError(.protocolError, ErrorCodes.protocolError, events: &events)
        }
        if case .firstSettings = phase {
            // The client's preface ends with a SETTINGS frame (§3.4).
            guard type == FrameType.settings, flags & FrameFlag.ack == 0 else {
                return connectionError(.badPreface, ErrorCodes.protocolError, events: &events)
            }
            phase = .open
        }
        switch type {
        case FrameType.data: data(flags: flags, stream: stream, payload: payload, events: &events)
        case FrameType.headers: headers(flags: flags, stream: stream, payload: payload, events: &events)
        case FrameType.continuation: continuation(flags: flags, stream: stream, payload: payload, events: &events)
        case FrameType.priority: priority(stream: stream, payload: payload, events: &events)
        case FrameType.rstStream: rstStream(stream: stream, payload: payload, events: &events)
        case FrameType.settings: settings(flags: flags, stream: stream, payload: payload, events: &events)
        case FrameType.ping: ping(flags: flags, stream: stream, payload: payload, events: &events)
        case FrameType.goAway:
            guard stream == 0 else { return connectionError(.protocolError, ErrorCodes.protocolError, events: &events) }
            guard payload.readableBytes >= 8 else { return connectionError(.protocolError, ErrorCodes.frameSizeError, events: &events) }
            events.append(.peerWentAway)
        case FrameType.windowUpdate: windowUpdate(stream: stream, payload: payload, events: &events)
        case FrameType.pushPromise:
            connectionError(.protocolError, ErrorCodes.protocolError, events: &events)  // a client may not push (§8.4)
        default:
            break  // unknown frame types are ignored (§5.5)
        }
    }

    /// The payload without its padding (§6.1, §6.2); nil when the padding does not fit.
    private func unpadded(_ payload: ByteBuffer, flags: UInt8) -> ByteBuffer? {
        guard flags & FrameFlag.padded != 0 else { return payload }
        var payload = payload
        guard let padLength = payload.readInteger(as: UInt8.self), Int(padLength) <= payload.readableBytes else { return nil }
        return payload.readSlice(length: payload.readableBytes - Int(padLength))
    }

    // MARK: - DATA

    private mutating func data(flags: UInt8, stream id: Int, payload: ByteBuffer, events: inout [Event]) {
        guard id != 0 else { return connectionError(.protocolError, ErrorCodes.protocolError, events: &events) }
        let flowControlled = payload.readableBytes
        guard let data = unpadded(payload, flags: flags) else {
            return connectionError(.protocolError, ErrorCodes.protocolError, events: &events)
        }
        // The connection window takes every DATA frame, whatever becomes of its stream (§6.9).
        guard flowControlled <= connectionReceiveWindow else {
            return connectionError(.flowControl, ErrorCodes.flowControlError, events: &events)
        }
        connectionReceiveWindow -= flowControlled
        connectionUncredited += flowControlled
        if connectionUncredited >= settings.connectionWindow / 2 {
            output.windowUpdate(stream: 0, increment: connectionUncredited)
            connectionReceiveWindow += connectionUncredited
            connectionUncredited = 0
        }
        let endStream = flags & FrameFlag.endStream != 0
        guard let state = streams[id] else {
            if id > highestStream { return connectionError(.protocolError, ErrorCodes.protocolError, events: &events) }  // idle
            // A closed stream's DATA: frames in flight when the stream was reset or answered are
            // ignored (§5.1), though not without end.
            return closedStreamFrame(events: &events)
        }
        guard !state.remoteEnded else { return streamError(id, .protocolError, ErrorCodes.streamClosed, events: &events) }
        guard flowControlled <= state.receiveWindow else { return streamError(id, .flowControl, ErrorCodes.flowControlError, events: &events) }
        state.receiveWindow -= flowControlled
        state.receivedLength += data.readableBytes
        if let declared = state.declaredLength, state.receivedLength > declared || (endStream && state.receivedLength != declared) {
            return streamError(id, .malformedRequest, ErrorCodes.protocolError, events: &events)  // §8.1.1
        }
        if data.readableBytes == 0 && !endStream, !emptyData.spend(now: now) {
            return connectionError(.emptyDataFlood, ErrorCodes.enhanceYourCalm, events: &events)
        }
        if endStream { remoteEnded(state) }
        events.append(.data(stream: id, bytes: data, flowControlled: flowControlled, endStream: endStream))
    }

    // MARK: - Header blocks

    private mutating func headers(flags: UInt8, stream id: Int, payload: ByteBuffer, events: inout [Event]) {
        guard id != 0, id & 1 == 1 || id <= highestStream else {
            return connectionError(.protocolError, ErrorCodes.protocolError, events: &events)
        }
        guard var fragment = unpadded(payload, flags: flags) else {
            return connectionError(.protocolError, ErrorCodes.protocolError, events: &events)
        }
        var selfDependent = false
        if flags & FrameFlag.priority != 0 {
            guard let dependency = fragment.readInteger(as: UInt32.self), fragment.readInteger(as: UInt8.self) != nil else {
                return connectionError(.protocolError, ErrorCodes.frameSizeError, events: &events)
            }
            selfDependent = Int(dependency & 0x7FFF_FFFF) == id
        }
        let endStream = flags & FrameFlag.endStream != 0
        if flags & FrameFlag.endHeaders != 0 {
            return headerBlock(stream: id, endStream: endStream, selfDependent: selfDependent, block: fragment, events: &events)
        }
        guard fragment.readableBytes <= settings.maxHeaderListSize else {
            return connectionError(.headerListTooLarge, ErrorCodes.enhanceYourCalm, events: &events)
        }
        headerBlock = (id, endStream, selfDependent, fragment, 0)
    }

    private mutating func continuation(flags: UInt8, stream id: Int, payload: ByteBuffer, events: inout [Event]) {
        guard var block = headerBlock.take() else {
            return connectionError(.protocolError, ErrorCodes.protocolError, events: &events)  // (no block open)
        }
        block.continuations += 1
        guard block.continuations <= Self.maxContinuations else {
            return connectionError(.continuationFlood, ErrorCodes.enhanceYourCalm, events: &events)
        }
        var payload = payload
        block.fragments.writeBuffer(&payload)
        guard block.fragments.readableBytes <= settings.maxHeaderListSize else {
            return connectionError(.headerListTooLarge, ErrorCodes.enhanceYourCalm, events: &events)
        }
        if flags & FrameFlag.endHeaders != 0 {
            headerBlock(stream: id, endStream: block.endStream, selfDependent: block.selfDependent, block: block.fragments, events: &events)
        } else {
            headerBlock = block
        }
    }

    /// A whole header block: a new stream's request, or an open stream's trailers.
    private mutating func headerBlock(stream id: Int, endStream: Bool, selfDependent: Bool, block: ByteBuffer, events: inout [Event]) {
        var block = block
        let headers: HPACKHeaders
        do {
            headers = try decoder.decodeHeaders(from: &block)
        } catch is NIOHPACKErrors.MaxHeaderListSizeViolation {
            return connectionError(.headerListTooLarge, ErrorCodes.enhanceYourCalm, events: &events)
        } catch {
            return connectionError(.protocolError, ErrorCodes.compressionError, events: &events)
        }
        if let state = streams[id] {
            if selfDependent { return streamError(id, .protocolError, ErrorCodes.protocolError, events: &events) }
            return trailers(state, headers, endStream: endStream, events: &events)
        }
        guard id > highestStream else {
            // Trailers in flight for a stream this side reset: decoded (the HPACK table stays in
            // step) and ignored. Any other stream id that does not grow is an error (§5.1.1), as in nginx.
            if recentlyReset.contains(id) { return closedStreamFrame(events: &events) }
            return connectionError(.protocolError, ErrorCodes.protocolError, events: &events)
        }
        highestStream = id
        guard !goAwaySent else { return }  // (after GOAWAY new streams are not processed, §6.8)
        if selfDependent { return streamError(id, .protocolError, ErrorCodes.protocolError, events: &events) }
        let declared: Int?
        do {
            declared = try RequestBlockCheck.request(headers)
        } catch {
            return streamError(id, .malformedRequest, ErrorCodes.protocolError, events: &events)
        }
        if let declared, declared > 0, endStream {
            return streamError(id, .malformedRequest, ErrorCodes.protocolError, events: &events)
        }
        guard streams.count < settings.maxConcurrentStreams else {
            // Past SETTINGS_MAX_CONCURRENT_STREAMS: refused, as nginx does (§5.1.2).
            return streamError(id, .tooManyStreams, ErrorCodes.refusedStream, events: &events)
        }
        streams[id] = ServerStreamState(
            id: id, remoteEnded: endStream, sendWindow: peerInitialWindow, receiveWindow: Self.initialWindow, declaredLength: declared)
        events.append(.request(stream: id, headers: headers, endStream: endStream))
    }

    private mutating func trailers(_ state: ServerStreamState, _ headers: HPACKHeaders, endStream: Bool, events: inout [Event]) {
        guard !state.remoteEnded else { return streamError(state.id, .protocolError, ErrorCodes.streamClosed, events: &events) }
        guard endStream else { return streamError(state.id, .malformedRequest, ErrorCodes.protocolError, events: &events) }
        do {
            try RequestBlockCheck.trailers(headers)
        } catch {
            return streamError(state.id, .malformedRequest, ErrorCodes.protocolError, events: &events)
        }
        if let declared = state.declaredLength, declared != state.receivedLength {
            return streamError(state.id, .malformedRequest, ErrorCodes.protocolError, events: &events)
        }
        remoteEnded(state)
        events.append(.trailers(stream: state.id, headers: headers))
    }

    private mutating func remoteEnded(_ state: ServerStreamState) {
        state.remoteEnded = true
        state.resetAfterPending = nil  // (both sides end: no reset needed to stop the request)
        if state.isDone { streams[state.id] = nil }
    }

    // MARK: - Control frames

    /// A frame for a stream that is closed: ignored, but counted with the control frames.
    private mutating func closedStreamFrame(events: inout [Event]) {
        if !controlFrames.spend(now: now) { connectionError(.controlFrameFlood, ErrorCodes.enhanceYourCalm, events: &events) }
    }

    private mutating func priority(stream id: Int, payload: ByteBuffer, events: inout [Event]) {
        guard id != 0 else { return connectionError(.protocolError, ErrorCodes.protocolError, events: &events) }
        guard payload.readableBytes == 5 else { return streamError(id, .protocolError, ErrorCodes.frameSizeError, events: &events) }
        if !controlFrames.spend(now: now) { return connectionError(.controlFrameFlood, ErrorCodes.enhanceYourCalm, events: &events) }
        if Int(payload.getInteger(at: payload.readerIndex, as: UInt32.self)! & 0x7FFF_FFFF) == id {
            streamError(id, .protocolError, ErrorCodes.protocolError, events: &events)  // depends on itself (§5.3.1)
        }
    }

    private mutating func rstStream(stream id: Int, payload: ByteBuffer, events: inout [Event]) {
        guard id != 0, id <= highestStream else { return connectionError(.protocolError, ErrorCodes.protocolError, events: &events) }
        guard payload.readableBytes == 4 else { return connectionError(.protocolError, ErrorCodes.frameSizeError, events: &events) }
        guard let state = streams.removeValue(forKey: id) else { return closedStreamFrame(events: &events) }
        pendingTotal -= state.dropPending()
        let code = payload.getInteger(at: payload.readerIndex, as: UInt32.self)!
        events.append(.reset(stream: id, code: HTTP2ErrorCode(networkCode: Int(code))))
        // Streams opened and reset before their answer, in a loop (CVE-2023-44487).
        if !state.localEnded, !clientResets.spend(now: now) {
            connectionError(.rapidReset, ErrorCodes.enhanceYourCalm, events: &events)
        }
    }

    private mutating func settings(flags: UInt8, stream: Int, payload: ByteBuffer, events: inout [Event]) {
        guard stream == 0 else { return connectionError(.protocolError, ErrorCodes.protocolError, events: &events) }
        if flags & FrameFlag.ack != 0 {
            if payload.readableBytes != 0 { connectionError(.protocolError, ErrorCodes.frameSizeError, events: &events) }
            return
        }
        guard payload.readableBytes % 6 == 0 else { return connectionError(.protocolError, ErrorCodes.frameSizeError, events: &events) }
        guard controlFrames.spend(now: now) else { return connectionError(.controlFrameFlood, ErrorCodes.enhanceYourCalm, events: &events) }
        var payload = payload
        var initialWindow: Int?
        while let parameter = payload.readInteger(as: UInt16.self), let value = payload.readInteger(as: UInt32.self) {
            switch parameter {
            case 0x1:  // HEADER_TABLE_SIZE: lowered, the next block says this side's table is empty
                if Int(value) < peerHeaderTableSize { tableSizeUpdatePending = true }
                peerHeaderTableSize = Int(value)
            case 0x2:  // ENABLE_PUSH
                guard value <= 1 else { return connectionError(.protocolError, ErrorCodes.protocolError, events: &events) }
            case 0x4:  // INITIAL_WINDOW_SIZE (the last one counts: applied once, below)
                guard value <= UInt32(Self.maxWindow) else {
                    return connectionError(.flowControl, ErrorCodes.flowControlError, events: &events)
                }
                initialWindow = Int(value)
            case 0x5:  // MAX_FRAME_SIZE
                guard value >= 16384 && value <= 16_777_215 else {
                    return connectionError(.protocolError, ErrorCodes.protocolError, events: &events)
                }
                peerMaxFrameSize = Int(value)
            default:
                break  // the rest advisory or unknown
            }
        }
        output.settingsAck()
        guard let initialWindow else { return }
        // Every stream's window moves by the difference (§6.9.2).
        let delta = initialWindow - peerInitialWindow
        peerInitialWindow = initialWindow
        for state in streams.values {
            state.sendWindow += delta
            guard state.sendWindow <= Self.maxWindow else {
                return connectionError(.flowControl, ErrorCodes.flowControlError, events: &events)
            }
        }
        if delta > 0 { sendWaiting(events: &events) }
    }

    private mutating func ping(flags: UInt8, stream: Int, payload: ByteBuffer, events: inout [Event]) {
        guard stream == 0 else { return connectionError(.protocolError, ErrorCodes.protocolError, events: &events) }
        guard payload.readableBytes == 8 else { return connectionError(.protocolError, ErrorCodes.frameSizeError, events: &events) }
        guard flags & FrameFlag.ack == 0 else { return }
        guard controlFrames.spend(now: now) else { return connectionError(.controlFrameFlood, ErrorCodes.enhanceYourCalm, events: &events) }
        output.pingAck(payload.getInteger(at: payload.readerIndex, as: UInt64.self)!)
    }

    private mutating func windowUpdate(stream id: Int, payload: ByteBuffer, events: inout [Event]) {
        guard payload.readableBytes == 4 else { return connectionError(.protocolError, ErrorCodes.frameSizeError, events: &events) }
        let increment = Int(payload.getInteger(at: payload.readerIndex, as: UInt32.self)! & 0x7FFF_FFFF)
        if id == 0 {
            guard increment > 0 else { return connectionError(.protocolError, ErrorCodes.protocolError, events: &events) }
            connectionSendWindow += increment
            guard connectionSendWindow <= Self.maxWindow else {
                return connectionError(.flowControl, ErrorCodes.flowControlError, events: &events)
            }
            return sendWaiting(events: &events)
        }
        guard id <= highestStream else { return connectionError(.protocolError, ErrorCodes.protocolError, events: &events) }
        guard let state = streams[id] else { return }  // (closed: may still arrive, §6.9)
        guard increment > 0 else { return streamError(id, .protocolError, ErrorCodes.protocolError, events: &events) }
        state.sendWindow += increment
        guard state.sendWindow <= Self.maxWindow else { return streamError(id, .flowControl, ErrorCodes.flowControlError, events: &events) }
        if !state.pending.isEmpty, sendPending(state) { events.append(.windowOpened) }
    }
}
