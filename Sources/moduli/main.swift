import Experiments
import ModuliCLI
ProcessSetup.prepareStandardStreams()
ModuliCommand.main()
