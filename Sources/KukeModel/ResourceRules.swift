/// The rules of `spec.resources` beyond its shape: every quantity parses and fits its limit
/// (`Quantity`, scaled with checked arithmetic: a number too large is a positioned issue,
/// never a trap), CPU weight and IO weight are 1–10000 (checked by the schema), devices are
/// `MAJ:MIN` and given once, page sizes are `<n>KB|MB|GB` up to 1024GB and given once, and a
/// hugetlb limit is a whole number of pages. Whether the kernel offers a page size is checked
/// when the space is applied.
enum ResourceRules {
    /// The issues of one document's `spec.resources`, at the positions the walk recorded.
    static func issues(_ resources: ManifestValue?, positions: [String: SourcePosition], document: SourcePosition) -> [ManifestIssue] {
        guard let resources else { return [] }
        var issues: [ManifestIssue] = []
        func check<T>(_ value: ManifestValue?, _ path: String, _ parse: (ManifestValue) -> Result<T, QuantityError>) {
            guard let value, case .failure(let error) = parse(value) else { return }
            issues.append(ManifestIssue(positions[path] ?? document, .fieldValue, "\(path): \(error.message)"))
        }
        let base = "spec.resources"
        check(resources["cpu"]?["max"], "\(base).cpu.max", Quantity.cpuMillis)
        for field in ["max", "high", "swapMax"] { check(resources["memory"]?[field], "\(base).memory.\(field)", Quantity.bytes) }
        check(resources["pids"]?["max"], "\(base).pids.max", Quantity.count)
        if case .list(let devices)? = resources["io"]?["max"] {
            var seen: Set<String> = []
            for (index, entry) in devices.enumerated() {
                let path = "\(base).io.max[\(index)]"
                guard let device = entry["device"]?.stringValue else {
                    issues.append(ManifestIssue(positions[path] ?? document, .required, "\(path).device is required: the block device, MAJ:MIN"))
                    continue
                }
                if let problem = Quantity.deviceProblem(device) {
                    issues.append(ManifestIssue(positions["\(path).device"] ?? document, .fieldValue, "\(path).device: \(problem)"))
                } else if !seen.insert(device).inserted {
                    issues.append(ManifestIssue(positions["\(path).device"] ?? document, .fieldValue, "\(path).device: \(device) is given twice"))
                }
                for field in ["rbps", "wbps"] { check(entry[field], "\(path).\(field)", Quantity.bytes) }
                for field in ["riops", "wiops"] { check(entry[field], "\(path).\(field)", Quantity.count) }
            }
        }
        if case .list(let entries)? = resources["hugetlb"] {
            var seen: Set<String> = []
            for (index, entry) in entries.enumerated() {
                let path = "\(base).hugetlb[\(index)]"
                guard let size = entry["pageSize"]?.stringValue else {
                    issues.append(ManifestIssue(positions[path] ?? document, .required, "\(path).pageSize is required: a huge page size like 2MB"))
                    continue
                }
                guard let pageBytes = Quantity.pageSizeBytes(size) else {
                    issues.append(
                        ManifestIssue(
                            positions["\(path).pageSize"] ?? document, .fieldValue,
                            "\(path).pageSize: \"\(size)\" is not a huge page size as the kernel names them (2MB, 1GB, 64KB; at most 1024GB)"))
                    continue
                }
                if !seen.insert(size).inserted {
                    issues.append(ManifestIssue(positions["\(path).pageSize"] ?? document, .fieldValue, "\(path).pageSize: \(size) is given twice"))
                }
                guard let max = entry["max"] else {
                    issues.append(ManifestIssue(positions[path] ?? document, .required, "\(path).max is required: a quantity like 64Mi, or max"))
                    continue
                }
                switch Quantity.bytes(max) {
                case .failure(let error):
                    issues.append(ManifestIssue(positions["\(path).max"] ?? document, .fieldValue, "\(path).max: \(error.message)"))
                case .success(let bytes?) where bytes % pageBytes != 0:
                    issues.append(
                        ManifestIssue(
                            positions["\(path).max"] ?? document, .fieldValue, "\(path).max: \(bytes) bytes is not a whole number of \(size) pages"))
                default: break
                }
            }
        }
        return issues
    }
}
