import Foundation
import KukeCLI

// The executable only hands the command line to the library, so everything is testable in-process.
exit(await Kuke.run(arguments: Array(CommandLine.arguments.dropFirst())))
