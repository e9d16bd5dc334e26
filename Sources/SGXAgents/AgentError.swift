/// A bad hyperparameter, environment or policy file, named in the message.
public enum AgentError: Error, Equatable, CustomStringConvertible {
    case unknownHyperparameter(name: String, algorithm: String, known: [String])
    case invalidHyperparameter(name: String, reason: String)
    case unsupportedEnvironment(String)
    case invalidPolicy(path: String, problem: String)
    case invalidArgument(String)
    /// Training produced non-finite parameters, or a policy non-finite
    /// actions or returns: the message names what and where.
    case diverged(String)

    public var description: String {
        switch self {
        case .unknownHyperparameter(let name, let algorithm, let known):
            return "\(algorithm) has no hyperparameter '\(name)'; its hyperparameters: \(known.joined(separator: ", "))"
        case .invalidHyperparameter(let name, let reason):
            return "invalid hyperparameter '\(name)': \(reason)"
        case .unsupportedEnvironment(let reason):
            return reason
        case .invalidPolicy(let path, let problem):
            return "\(path): not a policy file of this project: \(problem)"
        case .invalidArgument(let reason), .diverged(let reason):
            return reason
        }
    }
}
