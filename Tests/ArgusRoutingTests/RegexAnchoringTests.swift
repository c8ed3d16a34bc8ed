import Testing

@testable import ArgusRouting

@Suite struct RegexAnchoringTests {
    @Test func alternationIsOnlyAnchoredOnItsFirstBranch() {
        // Kong prepends `^` to the pattern as written, so `~/a|/b` finds `/b` anywhere.
        let router = makeRouter([makeRoute("r", paths: ["~/a|/b"], stripPath: false)])
        #expect(router.matchedID("/x/b") == "r")
        #expect(router.matchedID("/x/a") == nil)
    }
}
