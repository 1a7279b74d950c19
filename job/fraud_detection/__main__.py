from fraud_detection.cli import main

raise SystemExit(main())
