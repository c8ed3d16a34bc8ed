import Foundation
import Synchronization
import Testing

@testable import ArgusEvents

@Suite("the exporters' and senders' sleep")
struct NapTests {
    @Test("a short sleep ends by itself")
    func shortSleepEnds() {
        let nap = Nap()
        let started = ContinuousClock.now
        nap.sleep(for: .milliseconds(5))
        #expect(ContinuousClock.now - started >= .milliseconds(5))
    }

    @Test("wake() ends a long sleep, and every later one at once")
    func wakeEndsSleeps() async {
        let nap = Nap()
        let ended = Atomic<Bool>(false)
        let done = await withCheckedContinuation { (finished: CheckedContinuation<Bool, Never>) in
            Thread {
                nap.sleep(for: .seconds(600))
                ended.store(true, ordering: .releasing)
                finished.resume(returning: true)
            }.start()
            Thread {
                Thread.sleep(forTimeInterval: 0.05)
                nap.wake()
            }.start()
        }
        #expect(done && ended.load(ordering: .acquiring))
        nap.sleep(for: .seconds(600))  // returns at once: the test would hang otherwise
    }
}
