import Testing
@testable import ArgusConfig

@Suite struct CompiledRegexTests {
    @Test(arguments: [
        ("^/users/\\d+", "/users/"),
        ("^/a+", "/"),
        ("^/ab?c", "/a"),
        ("^/x{2}", "/"),
        ("^/plain/text", "/plain/text"),
        ("^/a|/b", ""),
        ("^(?i)/x", ""),
        ("^/a.b", "/a"),
        ("/no/anchor", ""),
    ])
    func literalPrefixPrefilterIsConservative(pattern: String, expected: String) throws {
        #expect(CompiledRegex.anchoredLiteralPrefix(of: pattern) == Array(expected.utf8))
        let regex = try #require(CompiledRegex(pattern))
        #expect(regex.requiredPrefix == Array(expected.utf8))
    }
}
